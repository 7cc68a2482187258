package engine

import (
	"context"
	"errors"
	"fmt"

	"mirror/internal/apperr"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
)

// ParsePack implements scan.PackParser with probe.ParsePack: the pack's issues
// become field errors named field + "." + the issue's path (e.g.
// "content.probes[2].success.kind"), their messages naming the pack and probe.
func (e *Engine) ParsePack(field, name string, content []byte) ([]string, error) {
	ps, err := probe.ParsePack(name, content)
	var pe *probe.PackError
	if errors.As(err, &pe) {
		out := make([]apperr.FieldError, 0, len(pe.Issues))
		for _, is := range pe.Issues {
			f := field
			if p := is.Path(); p != "" {
				f += "." + p
			}
			msg := is.Message
			if is.Index >= 0 {
				where := fmt.Sprintf("probe %d", is.Index+1)
				if is.Probe != "" {
					where += fmt.Sprintf(" (%s)", is.Probe)
				}
				if is.Line > 0 {
					where += fmt.Sprintf(" at line %d", is.Line)
				}
				msg = where + ": " + msg
			}
			out = append(out, apperr.FieldError{Field: f, Message: fmt.Sprintf("pack %q: %s", name, msg)})
		}
		return nil, apperr.Validation(out...)
	}
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids, nil
}

// packs parses the job's probe packs: the copies it took when it was created
// (scan.Job.Packs), so that a pack deleted or re-uploaded since changes nothing. A
// job created before jobs kept copies reads the packs from the store; one of them
// deleted since fails the scan.
func (e *Engine) packs(ctx context.Context, j scan.Job) ([]probe.Probe, error) {
	snaps := j.Packs
	if len(snaps) == 0 {
		for _, id := range j.Options.ProbePackIDs {
			p, err := e.store.ProbePack(ctx, id)
			if err != nil || p.OwnerID != j.OwnerID {
				return nil, fmt.Errorf("probe pack %s is gone (deleted after the scan was created)", id)
			}
			snaps = append(snaps, scan.PackSnapshot{ID: p.ID, Name: p.Name, Content: p.Content, SHA256: p.SHA256})
		}
	}
	var out []probe.Probe
	seen := map[string]bool{}
	for _, p := range snaps {
		id := p.ID
		ps, err := probe.ParsePack(p.Name, []byte(p.Content))
		if err != nil {
			return nil, fmt.Errorf("probe pack %s (%s): %w", id, p.Name, err)
		}
		for _, pr := range ps {
			if seen[pr.ID] {
				return nil, fmt.Errorf("probe pack %s (%s): probe id %s is in two packs", id, p.Name, pr.ID)
			}
			seen[pr.ID] = true
		}
		out = append(out, ps...)
	}
	return out, nil
}
