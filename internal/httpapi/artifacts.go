package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

type artifactResponse struct {
	ArtifactID string    `json:"artifact_id"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	Filename   string    `json:"filename"`
	CreatedAt  time.Time `json:"created_at"`
	Contained  bool      `json:"contained"`
}

func artifactBody(a scan.Artifact, contained bool) artifactResponse {
	return artifactResponse{ArtifactID: a.ID, SHA256: a.SHA256, Size: a.Size, Filename: a.Filename, CreatedAt: a.CreatedAt, Contained: contained}
}

// maxUploadParts bounds how many multipart parts are skipped looking for "file".
const maxUploadParts = 16

// uploadPart returns the multipart part named "file" of an upload, streaming:
// nothing is buffered beyond the part headers. Errors are client errors in the
// envelope (validation_error, or payload_too_large from the body's limit).
func uploadPart(r *http.Request) (*multipart.Part, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, apperr.Validation(apperr.FieldError{Field: "body", Message: "must be multipart/form-data with a file field"})
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for range maxUploadParts {
		p, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, badUpload(err)
		}
		if p.FormName() == "file" {
			return p, nil
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			return nil, badUpload(err)
		}
	}
	return nil, apperr.Validation(apperr.FieldError{Field: "file", Message: "is required (multipart field \"file\")"})
}

// badUpload is the client error for a body that is not a complete multipart
// upload; a body over its limit stays a MaxBytesError (413).
func badUpload(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "Request is invalid.", Err: err,
		Fields: []apperr.FieldError{{Field: "body", Message: "is not a complete multipart/form-data upload"}}}
}

// uploadReader marks errors from reading the upload, so that they are told apart
// from errors of the disk it is written to.
type uploadReader struct{ r io.Reader }

func (u uploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && err != io.EOF {
		err = badUpload(err)
	}
	return n, err
}

// multipartOverhead is what an upload request may carry beside the file itself.
const multipartOverhead = 64 << 10

// fileLimit fails with a MaxBytesError once the file passes its cap.
type fileLimit struct {
	r    io.Reader
	left int64
}

func (f *fileLimit) Read(p []byte) (int, error) {
	if f.left < 0 {
		return 0, &http.MaxBytesError{}
	}
	if int64(len(p)) > f.left+1 {
		p = p[:f.left+1]
	}
	n, err := f.r.Read(p)
	f.left -= int64(n)
	if f.left < 0 {
		return n, &http.MaxBytesError{}
	}
	return n, err
}

// handleArtifactUpload streams the file to disk under MAX_UPLOAD_BYTES; a body
// over the limit is 413 and leaves nothing behind.
func (s *Server) handleArtifactUpload(w http.ResponseWriter, r *http.Request) {
	// MAX_UPLOAD_BYTES caps the file; the request may carry up to multipartOverhead
	// more for the multipart framing (boundaries, part headers, other small fields).
	limit := s.opts.MaxUploadBytes
	if r.ContentLength > limit+multipartOverhead {
		s.error(w, r, apperr.Errorf(apperr.PayloadTooLarge, "Upload is larger than %d bytes.", limit))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartOverhead)
	part, err := uploadPart(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	art, err := s.ms.Scans.SaveArtifact(r.Context(), actor(r), part.FileName(), uploadReader{&fileLimit{r: part, left: limit}})
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = apperr.Errorf(apperr.PayloadTooLarge, "Upload is larger than %d bytes.", limit)
		}
		s.error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/artifacts/"+art.ID)
	writeJSON(w, http.StatusCreated, artifactBody(art, false))
}

func (s *Server) handleArtifactGet(w http.ResponseWriter, r *http.Request) {
	art, contained, err := s.ms.Scans.Artifact(r.Context(), actor(r), chi.URLParam(r, "artifact_id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, artifactBody(art, contained))
}

// handleArtifactDelete deletes one of the user's artifacts: 204, or 409 while it
// is contained or a scan of it is queued or running.
func (s *Server) handleArtifactDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.ms.Scans.DeleteArtifact(r.Context(), actor(r), chi.URLParam(r, "artifact_id")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleArtifactDownload(w http.ResponseWriter, r *http.Request) {
	art, f, err := s.ms.Scans.OpenArtifact(r.Context(), actor(r), chi.URLParam(r, "artifact_id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": art.Filename}))
	h.Set("Content-Length", strconv.FormatInt(art.Size, 10))
	h.Set("X-Content-SHA256", art.SHA256)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		s.log.DebugContext(r.Context(), "artifact download cut short", "artifact_id", art.ID, "error", fmt.Sprint(err))
	}
}
