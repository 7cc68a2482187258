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

// packs loads and parses the job's probe packs. A pack deleted (or replaced by
// another owner's id) since the scan was created fails the scan.
func (e *Engine) packs(ctx context.Context, j scan.Job) ([]probe.Probe, error) {
	var out []probe.Probe
	seen := map[string]bool{}
	for _, id := range j.Options.ProbePackIDs {
		p, err := e.store.ProbePack(ctx, id)
		if err != nil || p.OwnerID != j.OwnerID {
			return nil, fmt.Errorf("probe pack %s is gone (deleted after the scan was created)", id)
		}
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
