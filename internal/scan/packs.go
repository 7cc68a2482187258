package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"mirror/internal/apperr"
)

// ProbePack is a user's probe file (the built-in probes' schema, YAML or JSON),
// kept to be run by the scans that name it in JobOptions.ProbePackIDs.
type ProbePack struct {
	ID        string
	OwnerID   string
	Name      string
	Content   string
	Size      int
	Probes    int // how many probes it holds
	SHA256    string
	CreatedAt time.Time
}

// PackSnapshot is a probe pack as a scan saw it when it was created (Job.Packs).
type PackSnapshot struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Content string `json:"content"`
	SHA256  string `json:"sha256"`
}

// PackStore keeps probe packs; part of Store.
type PackStore interface {
	// CreateProbePack records p unless its owner already keeps max packs (0: no
	// cap): that is a conflict.
	CreateProbePack(ctx context.Context, p ProbePack, max int) error
	// ProbePack returns the pack; unknown is apperr.NotFound.
	ProbePack(ctx context.Context, id string) (ProbePack, error)
	// ProbePacks lists the owner's packs, newest first, without their content.
	ProbePacks(ctx context.Context, ownerID string) ([]ProbePack, error)
	// DeleteProbePack deletes the owner's pack; unknown is apperr.NotFound.
	DeleteProbePack(ctx context.Context, ownerID, id string) error
}

// PackParser validates a probe pack: the ids of its probes, or an
// *apperr.Error (validation_error) whose field errors name the probe and field,
// prefixed by field (e.g. "content.probes[2].success.kind").
type PackParser interface {
	ParsePack(field, name string, content []byte) (ids []string, err error)
}

// Bounds on probe packs.
const (
	// MaxPackBytes is the default cap of one uploaded pack's content
	// (MAX_PROBE_PACK_BYTES; Options.MaxPackBytes), at most the probe package's
	// own bound.
	MaxPackBytes = 1 << 20
	// MaxPacksPerUser caps how many packs one user keeps.
	MaxPacksPerUser = 50
	maxPackName     = 200
)

// PackInput is an uploaded pack as the API received it.
type PackInput struct {
	Name    string
	Content string
}

var errPackNotFound = apperr.Errorf(apperr.NotFound, "Probe pack not found.")

// SaveProbePack validates and keeps a probe pack of the actor's. Errors:
// validation_error naming the field (name, content, or the probe and field inside
// content); conflict when the actor already keeps MaxPacksPerUser packs.
func (s *Service) SaveProbePack(ctx context.Context, a Actor, in PackInput) (ProbePack, error) {
	var bad []apperr.FieldError
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		bad = append(bad, apperr.FieldError{Field: "name", Message: "is required"})
	case len(name) > maxPackName || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		bad = append(bad, apperr.FieldError{Field: "name", Message: fmt.Sprintf("must be at most %d bytes of text on one line", maxPackName)})
	}
	switch {
	case strings.TrimSpace(in.Content) == "":
		bad = append(bad, apperr.FieldError{Field: "content", Message: "is required"})
	case len(in.Content) > s.o.MaxPackBytes:
		bad = append(bad, apperr.FieldError{Field: "content", Message: fmt.Sprintf("must be at most %d bytes (MAX_PROBE_PACK_BYTES)", s.o.MaxPackBytes)})
	case !utf8.ValidString(in.Content):
		bad = append(bad, apperr.FieldError{Field: "content", Message: "must be UTF-8 text"})
	}
	if len(bad) > 0 {
		return ProbePack{}, apperr.Validation(bad...)
	}
	if s.o.Packs == nil {
		return ProbePack{}, apperr.Errorf(apperr.Unavailable, "Probe packs are not available on this server.")
	}
	ids, err := s.o.Packs.ParsePack("content", name, []byte(in.Content))
	if err != nil {
		return ProbePack{}, err
	}
	sum := sha256.Sum256([]byte(in.Content))
	p := ProbePack{ID: uuid.NewString(), OwnerID: a.ID, Name: name, Content: in.Content, Size: len(in.Content), Probes: len(ids),
		SHA256: hex.EncodeToString(sum[:]), CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if err := s.store.CreateProbePack(ctx, p, MaxPacksPerUser); err != nil {
		return ProbePack{}, err
	}
	return p, nil
}

// ProbePack returns one of the actor's packs; another user's is not_found.
func (s *Service) ProbePack(ctx context.Context, a Actor, id string) (ProbePack, error) {
	p, err := s.store.ProbePack(ctx, id)
	if err != nil && apperr.CodeOf(err) == apperr.NotFound || err == nil && p.OwnerID != a.ID {
		return ProbePack{}, errPackNotFound
	}
	if err != nil {
		return ProbePack{}, fmt.Errorf("get probe pack: %w", err)
	}
	return p, nil
}

// ProbePacks lists the actor's packs, newest first, without their content.
func (s *Service) ProbePacks(ctx context.Context, a Actor) ([]ProbePack, error) {
	ps, err := s.store.ProbePacks(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("list probe packs: %w", err)
	}
	return ps, nil
}

// DeleteProbePack deletes one of the actor's packs; another user's is
// not_found. Scans already created that name it still run it: they carry a copy
// of it taken when they were created (Job.Packs).
func (s *Service) DeleteProbePack(ctx context.Context, a Actor, id string) error {
	if err := s.store.DeleteProbePack(ctx, a.ID, id); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return errPackNotFound
		}
		return fmt.Errorf("delete probe pack: %w", err)
	}
	return nil
}

// checkPacks checks, when a scan is created, that every pack it names is the
// actor's and that their probe ids do not collide, and returns the packs as they
// are now, for the job to keep.
func (s *Service) checkPacks(ctx context.Context, a Actor, ids []string) ([]PackSnapshot, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if s.o.Packs == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "Probe packs are not available on this server.")
	}
	where := map[string]string{}
	var out []PackSnapshot
	for i, id := range ids {
		p, err := s.ProbePack(ctx, a, id)
		if err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return nil, apperr.Errorf(apperr.NotFound, "Probe pack %q not found.", id)
			}
			return nil, err
		}
		field := fmt.Sprintf("options.probe_pack_ids[%d]", i)
		probes, err := s.o.Packs.ParsePack(field, p.Name, []byte(p.Content))
		if err != nil {
			return nil, err
		}
		for _, pid := range probes {
			if other, dup := where[pid]; dup {
				return nil, apperr.Validation(apperr.FieldError{Field: field, Message: fmt.Sprintf("probe id %q is also in pack %q", pid, other)})
			}
			where[pid] = p.Name
		}
		out = append(out, PackSnapshot{ID: p.ID, Name: p.Name, Content: p.Content, SHA256: p.SHA256})
	}
	return out, nil
}

// validateContext checks the options that describe the target as deployed: the
// system prompt, the purpose and the packs (chat targets only).
func validateContext(o JobOptions, kind TargetKind, field func(name, msg string)) {
	chat := kind == TargetCatalogModel || kind == TargetEndpoint
	if len(o.SystemPrompt) > MaxSystemPromptBytes || !utf8.ValidString(o.SystemPrompt) {
		field("options.system_prompt", fmt.Sprintf("must be at most %d bytes of text", MaxSystemPromptBytes))
	} else if o.SystemPrompt != "" && !chat {
		field("options.system_prompt", "applies to chat targets only (catalog_model, endpoint)")
	}
	if len(o.Purpose) > MaxPurposeBytes || !utf8.ValidString(o.Purpose) {
		field("options.purpose", fmt.Sprintf("must be at most %d bytes of text", MaxPurposeBytes))
	} else if o.Purpose != "" && !chat {
		field("options.purpose", "applies to chat targets only (catalog_model, endpoint)")
	}
	switch {
	case len(o.ProbePackIDs) > MaxPacksPerScan:
		field("options.probe_pack_ids", fmt.Sprintf("must name at most %d packs", MaxPacksPerScan))
	case len(o.ProbePackIDs) > 0 && !chat:
		field("options.probe_pack_ids", "applies to chat targets only (catalog_model, endpoint)")
	}
	seen := map[string]bool{}
	for i, id := range o.ProbePackIDs {
		switch {
		case i >= MaxPacksPerScan:
			return
		case strings.TrimSpace(id) == "" || len(id) > maxName || !utf8.ValidString(id):
			field(fmt.Sprintf("options.probe_pack_ids[%d]", i), fmt.Sprintf("must be a pack id of at most %d bytes", maxName))
		case seen[id]:
			field(fmt.Sprintf("options.probe_pack_ids[%d]", i), "is named twice")
		}
		seen[id] = true
	}
}
