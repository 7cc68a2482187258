package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"mirror/internal/apperr"
)

func multipartBody(t testing.TB, field, name string, data []byte) (*bytes.Buffer, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("note", "skipped")
	fw, err := mw.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return &b, mw.FormDataContentType()
}

func TestUploadPart(t *testing.T) {
	body, ct := multipartBody(t, "file", "../../etc/model.pkl", []byte("weights"))
	r := httptest.NewRequest("POST", "/api/v1/artifacts", body)
	r.Header.Set("Content-Type", ct)
	p, err := uploadPart(r)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(p)
	if string(got) != "weights" || p.FileName() != "model.pkl" {
		t.Fatalf("part %q %q", p.FileName(), got)
	}

	body, ct = multipartBody(t, "other", "x", []byte("y"))
	r = httptest.NewRequest("POST", "/api/v1/artifacts", body)
	r.Header.Set("Content-Type", ct)
	if _, err := uploadPart(r); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("no file field: %v", err)
	}
	r = httptest.NewRequest("POST", "/api/v1/artifacts", bytes.NewReader([]byte("{}")))
	r.Header.Set("Content-Type", "application/json")
	if _, err := uploadPart(r); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("not multipart: %v", err)
	}
	// Over the limit while reading the parts: the MaxBytesError comes through.
	body, ct = multipartBody(t, "other", "x", bytes.Repeat([]byte("y"), 4096))
	r = httptest.NewRequest("POST", "/api/v1/artifacts", body)
	r.Header.Set("Content-Type", ct)
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 100)
	var mbe *http.MaxBytesError
	if _, err := uploadPart(r); !errors.As(err, &mbe) {
		t.Fatalf("over the limit: %v", err)
	}
}

// FuzzUploadPart feeds arbitrary bytes as a multipart body: uploadPart must answer
// with a part or a client error, never panic, and never read past the limit.
func FuzzUploadPart(f *testing.F) {
	body, ct := multipartBody(f, "file", "m.pkl", []byte("\x80\x02."))
	f.Add(body.Bytes(), ct)
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x--\r\n"), "multipart/form-data; boundary=x")
	f.Add([]byte("--x\r\n\r\n"), "multipart/form-data; boundary=x")
	f.Add([]byte{}, "multipart/form-data")
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		r := httptest.NewRequest("POST", "/api/v1/artifacts", bytes.NewReader(data))
		r.Header.Set("Content-Type", contentType)
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 1<<16)
		p, err := uploadPart(r)
		if err != nil {
			var mbe *http.MaxBytesError
			if _, ok := apperr.As(err); !ok && !errors.As(err, &mbe) {
				if toAppError(err).Code == apperr.Internal {
					t.Fatalf("not a client error: %v", err)
				}
			}
			return
		}
		io.Copy(io.Discard, p)
	})
}
