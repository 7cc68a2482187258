package embedding

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"mirror/internal/scan"
)

// secret is one text whose vector the attacker holds: the value of every field
// (indices into invFields' values) and the text itself.
type secret struct {
	values []int
	text   string
}

// pick is one phrase of a reconstruction: a field and the index of its value.
type pick struct{ field, value int }

// beamState is a partial reconstruction and how close its embedding came.
type beamState struct {
	picks []pick
	used  uint64 // bit i: field i is filled
	text  string
	score float64
}

// inversion is the state of one inversion attack.
type inversion struct {
	c       *client
	opts    Options
	secrets []secret
	targets [][]float64 // the secrets' vectors: all the attacker is given
	// phraseVec maps each field's values to their vectors (vocabulary stage).
	phraseVec [][][]float64
	// shortlist[t][f] are the value indices of field f nearest to target t.
	shortlist [][][]int
	nnTop1    [][]int // nnTop1[t][f]: the nearest value of field f
	best      []beamState

	setupRequests, vocabRequests, searchRequests int
	steps                                        int
	exhausted, narrowed                          bool
	completed                                    int // fields filled from the nearest neighbour
	texts                                        int
}

// invert runs the inversion attack on freshly drawn secrets and returns its finding.
// budget is how many requests it may send (negative: unbounded); the search stops
// early when they run out, and the finding says so.
func invert(ctx context.Context, c *client, r *rand.Rand, opts Options, model string, budget int) (scan.Finding, error) {
	start := time.Now()
	inv := &inversion{c: c, opts: opts}
	for range opts.Secrets {
		s := secret{values: make([]int, len(invFields))}
		args := make([]any, len(invFields))
		for f, fd := range invFields {
			s.values[f] = r.IntN(len(fd.values))
			args[f] = fd.values[s.values[f]]
		}
		s.text = fmt.Sprintf(secretTemplates[r.IntN(len(secretTemplates))], args...)
		inv.secrets = append(inv.secrets, s)
	}
	texts := make([]string, len(inv.secrets))
	for i, s := range inv.secrets {
		texts[i] = s.text
	}
	before := c.requests.Load()
	var err error
	// The victim's vectors, as a leaked vector store would hold them.
	if inv.targets, err = c.embed(ctx, texts); err != nil {
		return scan.Finding{}, fmt.Errorf("embed the secret texts: %w", err)
	}
	inv.setupRequests = int(c.requests.Load() - before)
	if err := inv.vocabulary(ctx); err != nil {
		return scan.Finding{}, err
	}
	inv.search(ctx, budget-inv.setupRequests-inv.vocabRequests, budget >= 0)
	if err := ctx.Err(); err != nil {
		return scan.Finding{}, context.Cause(ctx)
	}
	inv.complete()
	return inv.finding(model, time.Since(start)), nil
}

// vocabulary embeds every field's candidate phrases and shortlists, for each
// target, the values of each field nearest to it (the nearest-neighbour stage).
func (inv *inversion) vocabulary(ctx context.Context) error {
	index := map[string]int{}
	var phrases []string
	for _, fd := range invFields {
		for _, v := range fd.values {
			if _, ok := index[v]; !ok {
				index[v] = len(phrases)
				phrases = append(phrases, v)
			}
		}
	}
	before := inv.c.requests.Load()
	vecs, err := inv.c.embed(ctx, phrases)
	if err != nil {
		return fmt.Errorf("embed the candidate vocabulary: %w", err)
	}
	inv.vocabRequests = int(inv.c.requests.Load() - before)
	inv.phraseVec = make([][][]float64, len(invFields))
	for f, fd := range invFields {
		for _, v := range fd.values {
			inv.phraseVec[f] = append(inv.phraseVec[f], vecs[index[v]])
		}
	}
	k := inv.opts.Shortlist
	inv.shortlist = make([][][]int, len(inv.targets))
	inv.nnTop1 = make([][]int, len(inv.targets))
	for t, tv := range inv.targets {
		inv.shortlist[t] = make([][]int, len(invFields))
		inv.nnTop1[t] = make([]int, len(invFields))
		for f := range invFields {
			inv.shortlist[t][f] = nearest(tv, inv.phraseVec[f], k)
			inv.nnTop1[t][f] = inv.shortlist[t][f][0]
		}
	}
	return nil
}

// search is the iterative stage: a beam search that grows each reconstruction one
// shortlisted phrase at a time (at most one value per field), embeds every
// candidate through the endpoint, and keeps the Beam candidates whose vectors lie
// closest to the target. A target whose best candidate stops improving is done.
// Candidates of all targets share batches. bounded says whether budget limits the
// requests; a step that would not fit is not started.
func (inv *inversion) search(ctx context.Context, budget int, bounded bool) {
	n := len(inv.targets)
	beams := make([][]beamState, n)
	inv.best = make([]beamState, n)
	active := make([]bool, n)
	for t := range beams {
		beams[t] = []beamState{{score: -2}}
		inv.best[t] = beamState{score: -2}
		active[t] = true
	}
	spent := 0
	type cand struct {
		target int
		state  beamState
	}
	expand := func(width int) []cand {
		var cands []cand
		for t := range beams {
			if !active[t] {
				continue
			}
			seen := map[string]bool{}
			for _, b := range beams[t][:min(width, len(beams[t]))] {
				for f := range invFields {
					if b.used&(1<<f) != 0 {
						continue
					}
					for _, v := range inv.shortlist[t][f] {
						s := beamState{picks: append(slices.Clip(b.picks), pick{f, v}), used: b.used | 1<<f}
						s.text = inv.render(s.picks)
						if !seen[s.text] {
							seen[s.text] = true
							cands = append(cands, cand{t, s})
						}
					}
				}
			}
		}
		return cands
	}
	for step := 0; step < len(invFields); step++ {
		cands := expand(inv.opts.Beam)
		if len(cands) == 0 {
			return
		}
		if bounded && spent+inv.c.requestsFor(len(cands)) > budget {
			// Too little budget left for the beam: go on greedily from each
			// target's best candidate, if that fits.
			inv.narrowed = true
			if cands = expand(1); spent+inv.c.requestsFor(len(cands)) > budget {
				inv.exhausted = true
				return
			}
		}
		texts := make([]string, len(cands))
		for i, c := range cands {
			texts[i] = c.state.text
		}
		before := inv.c.requests.Load()
		vecs, err := inv.c.embed(ctx, texts)
		inv.searchRequests += int(inv.c.requests.Load() - before)
		spent += int(inv.c.requests.Load() - before)
		if err != nil {
			// A refusal of the budget shared with other probes, or a failure
			// mid-search: the reconstructions so far stand.
			inv.exhausted = errors.Is(err, ErrBudget)
			if !inv.exhausted {
				inv.c.log.WarnContext(ctx, "embedding inversion search stopped", "step", step+1, "error", err)
			}
			return
		}
		inv.texts += len(texts)
		inv.steps++
		next := make([][]beamState, n)
		for i, c := range cands {
			c.state.score = dot(vecs[i], inv.targets[c.target])
			next[c.target] = append(next[c.target], c.state)
		}
		for t := range next {
			if !active[t] {
				continue
			}
			slices.SortStableFunc(next[t], func(a, b beamState) int {
				switch {
				case a.score > b.score:
					return -1
				case a.score < b.score:
					return 1
				}
				return 0
			})
			next[t] = next[t][:min(len(next[t]), inv.opts.Beam)]
			if len(next[t]) == 0 || next[t][0].score <= inv.best[t].score {
				active[t] = false
				continue
			}
			inv.best[t] = next[t][0]
			beams[t] = next[t]
		}
	}
}

// complete appends to each search result the nearest-neighbour value of every
// field the search left empty (it stopped improving, or the budget ran out), so each
// reconstruction guesses every field exactly once: a blind guess is then right
// 1/candidates of the time, the chance rate the finding uses. No request is sent.
func (inv *inversion) complete() {
	for t := range inv.best {
		b := &inv.best[t]
		b.picks = slices.Clip(b.picks)
		for f := range invFields {
			if b.used&(1<<f) == 0 {
				b.picks = append(b.picks, pick{f, inv.nnTop1[t][f]})
				b.used |= 1 << f
				inv.completed++
			}
		}
		b.text = inv.render(b.picks)
	}
}

func (inv *inversion) render(ps []pick) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = invFields[p.field].values[p.value]
	}
	return strings.Join(parts, " ")
}

// contentTokens are the lower-cased word tokens of s without stopwords.
func contentTokens(s string) map[string]bool {
	out := map[string]bool{}
	for _, t := range wordTokens(s) {
		if !stopwords[t] {
			out[t] = true
		}
	}
	return out
}

// fieldResult is one field's recovery over all secrets.
type fieldResult struct {
	nnHits, hits int
	chance       float64
	pValue       float64
}

func (inv *inversion) finding(model string, elapsed time.Duration) scan.Finding {
	n := len(inv.secrets)
	fields := make([]fieldResult, len(invFields))
	fullName, tp, recTokens, secretTokens := 0, 0, 0, 0
	type example struct{ secret, reconstruction string }
	var examples []example
	for t, s := range inv.secrets {
		got := map[int]int{}
		for _, p := range inv.best[t].picks {
			got[p.field] = p.value
		}
		for f := range invFields {
			if inv.nnTop1[t][f] == s.values[f] {
				fields[f].nnHits++
			}
			if v, ok := got[f]; ok && v == s.values[f] {
				fields[f].hits++
			}
		}
		if v0, ok0 := got[0]; ok0 && v0 == s.values[0] {
			if v1, ok1 := got[1]; ok1 && v1 == s.values[1] {
				fullName++
			}
		}
		st, rt := contentTokens(s.text), contentTokens(inv.best[t].text)
		for w := range rt {
			if st[w] {
				tp++
			}
		}
		recTokens += len(rt)
		secretTokens += len(st)
		if len(examples) < 3 {
			examples = append(examples, example{s.text, inv.best[t].text})
		}
	}
	perField := map[string]any{}
	score := 0.0
	significant := map[string]bool{}
	for f, fd := range invFields {
		fr := &fields[f]
		fr.chance = 1 / float64(len(fd.values))
		fr.pValue = binomialTail(fr.hits, n, fr.chance)
		perField[fd.name] = map[string]any{
			"recovered": fr.hits, "recovered_rate": rate(fr.hits, n),
			"nearest_neighbour_hits": fr.nnHits, "nearest_neighbour_rate": rate(fr.nnHits, n),
			"chance": round3(fr.chance), "candidates": len(fd.values), "p_value": fr.pValue,
		}
		if fr.pValue >= significance {
			continue
		}
		significant[fd.sensitive] = true
		weight := 5.0
		switch fd.sensitive {
		case "name", "number":
			weight = 6
		}
		score = max(score, weight*excess(float64(fr.hits)/float64(n), fr.chance))
	}
	nameChance := 1 / float64(len(invFirst)*len(invLast))
	pName := binomialTail(fullName, n, nameChance)
	if pName < significance {
		score = max(score, 9*excess(float64(fullName)/float64(n), nameChance))
	}
	if significant["name"] && significant["number"] {
		score++
	}
	score = roundScore(score)
	recovered := []string{}
	for _, k := range []string{"name", "number", "location", "occupation", "health"} {
		if significant[k] {
			recovered = append(recovered, k)
		}
	}
	precision, recall := 0.0, 0.0
	if recTokens > 0 {
		precision = float64(tp) / float64(recTokens)
	}
	if secretTokens > 0 {
		recall = float64(tp) / float64(secretTokens)
	}
	exs := make([]map[string]string, len(examples))
	for i, e := range examples {
		exs[i] = map[string]string{"secret": e.secret, "reconstruction": e.reconstruction}
	}
	ev := map[string]any{
		"model":                 model,
		"seed":                  inv.opts.Seed,
		"secrets":               n,
		"token_precision":       round3(precision),
		"token_recall":          round3(recall),
		"tokens_recovered":      tp,
		"tokens_reconstructed":  recTokens,
		"tokens_secret":         secretTokens,
		"full_name_recovered":   fullName,
		"full_name_chance":      nameChance,
		"full_name_p_value":     pName,
		"per_field":             perField,
		"sensitive_recovered":   recovered,
		"examples":              exs,
		"requests_setup":        inv.setupRequests,
		"requests_vocabulary":   inv.vocabRequests,
		"requests_search":       inv.searchRequests,
		"requests":              inv.setupRequests + inv.vocabRequests + inv.searchRequests,
		"texts_embedded_search": inv.texts,
		"search_steps":          inv.steps,
		"budget_exhausted":      inv.exhausted,
		"seconds":               round3(elapsed.Seconds()),
		"beam_width":            inv.opts.Beam,
		"shortlist_per_field":   inv.opts.Shortlist,
		"vocabulary_phrases":    vocabularySize(),
		"significance":          significance,
		"method": "the attacker holds only each secret text's vector and the endpoint: nearest neighbours of the vector among embedded " +
			"candidate phrases (names, years, cities, occupations, conditions) shortlist each field, then a beam search builds a text " +
			"phrase by phrase, embedding every candidate through the endpoint and keeping those whose vectors come closest; " +
			"fields the search left empty are filled with their nearest value, so each field is guessed once; " +
			"a field counts as recovered when the final text holds its value, against 1/candidates by chance",
	}
	return scan.Finding{
		ScanType:    scan.EmbeddingReidentification,
		RuleID:      string(scan.EmbeddingReidentification) + ".inversion",
		Severity:    scan.SeverityForScore(score),
		Score:       score,
		Title:       inversionTitle(score, recovered, fullName, n, recall) + cutShort(inv.exhausted),
		Evidence:    ev,
		Remediation: "Treat stored vectors as the text they encode: keep vector stores access-controlled and encrypted, never return raw embeddings to untrusted callers, and keep names, numbers and health data out of embedded text (or embed a redacted copy).",
		Target:      inv.opts.Target,
	}
}

func vocabularySize() int {
	n := 0
	for _, f := range invFields {
		n += len(f.values)
	}
	return n
}

func inversionTitle(score float64, recovered []string, fullName, n int, recall float64) string {
	if score == 0 {
		return fmt.Sprintf("Embedding inversion recovered nothing beyond chance (token recall %.0f%%)", 100*recall)
	}
	return fmt.Sprintf("Embedding inversion reconstructs text from its vector: %s recovered (full name %d of %d, token recall %.0f%%)",
		strings.Join(recovered, ", "), fullName, n, 100*recall)
}

func cutShort(exhausted bool) string {
	if exhausted {
		return " (search cut short by the request budget)"
	}
	return ""
}
