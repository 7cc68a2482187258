package embedding

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"mirror/internal/scan"
	"mirror/internal/scan/probe/pii"
)

// conditions is the held-out attribute's domain.
var conditions = []string{"type 2 diabetes", "asthma", "hypertension", "major depressive disorder", "migraine", "coeliac disease", "hypothyroidism", "epilepsy"}

type record struct {
	person    pii.Person
	condition string
}

func (r record) text() string {
	p := r.person
	return fmt.Sprintf("Name: %s; Date of birth: %s; City: %s, %s; Occupation: %s; Employer: %s; Email: %s; Phone: %s; Condition: %s",
		p.Name(), p.Birth, p.City, p.State, p.Occupation, p.Employer, p.Email, p.Phone, r.condition)
}

// paraphrases describe each synthetic occupation without its words, and stateNames
// spell out the records' state codes: the paraphrased variant shares almost no
// token with the record, so only an embedder that carries meaning can link them.
var paraphrases = map[string]string{
	"pediatric nurse":               "cares for sick children on a ward",
	"structural engineer":           "designs load-bearing frames for buildings and bridges",
	"high-school chemistry teacher": "teaches reactions and the periodic table to teenagers",
	"commercial pilot":              "flies passenger airliners",
	"veterinary surgeon":            "operates on injured pets and farm animals",
	"tax accountant":                "prepares income returns for clients",
	"marine biologist":              "studies ocean life",
	"court stenographer":            "transcribes trials word by word",
	"pastry chef":                   "bakes croissants and tarts for a living",
	"firmware developer":            "writes low-level code for embedded devices",
	"occupational therapist":        "helps injured people relearn daily tasks",
	"air-traffic controller":        "guides planes in and out of airports",
}

var stateNames = map[string]string{
	"OK": "Oklahoma", "ID": "Idaho", "WI": "Wisconsin", "WA": "Washington", "GA": "Georgia", "MN": "Minnesota",
	"CA": "California", "NY": "New York", "KY": "Kentucky", "UT": "Utah", "VT": "Vermont", "NV": "Nevada",
}

var monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}

// variants are the auxiliary descriptions an attacker might hold. None mentions the
// condition.
var variants = []struct {
	name string
	make func(r *rand.Rand, p pii.Person) string
}{
	{"name_subset", func(_ *rand.Rand, p pii.Person) string {
		return fmt.Sprintf("%s, a %s from %s", p.Name(), p.Occupation, p.City)
	}},
	{"typos_reordered", func(r *rand.Rand, p pii.Person) string {
		return fmt.Sprintf("works at %s. born %s. %s %s", p.Employer, p.Birth, typo(r, p.Last), typo(r, p.First))
	}},
	{"quasi_identifiers", func(_ *rand.Rand, p pii.Person) string {
		return fmt.Sprintf("%s at %s, born %s, lives in %s %s", p.Occupation, p.Employer, p.Birth, p.City, p.ZIP)
	}},
	{"paraphrased", func(_ *rand.Rand, p pii.Person) string {
		return fmt.Sprintf("%s; lives in %s; birthday %s", paraphrase(p.Occupation), stateName(p.State), birthday(p.Birth))
	}},
}

func paraphrase(occupation string) string {
	if s, ok := paraphrases[occupation]; ok {
		return s
	}
	return occupation
}

func stateName(code string) string {
	if s, ok := stateNames[code]; ok {
		return s
	}
	return code
}

// birthday writes an ISO date's month and day in words ("March 7"), without the year.
func birthday(iso string) string {
	parts := strings.Split(iso, "-")
	if len(parts) != 3 {
		return iso
	}
	m, err1 := strconv.Atoi(parts[1])
	d, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || m < 1 || m > 12 {
		return iso
	}
	return fmt.Sprintf("%s %d", monthNames[m-1], d)
}

// typo swaps two adjacent letters of a word, as a hurried typist would.
func typo(r *rand.Rand, w string) string {
	b := []byte(w)
	if len(b) < 3 {
		return w
	}
	i := 1 + r.IntN(len(b)-2)
	b[i], b[i+1] = b[i+1], b[i]
	return string(b)
}

// hits are one matcher's answers to every query: top-1 and top-5 correct, and the
// nearest record's condition correct.
type hits struct{ top1, top5, attr []bool }

func newHits(n int) hits {
	return hits{make([]bool, n), make([]bool, n), make([]bool, n)}
}

func count(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

// reidentify embeds n synthetic records and the auxiliary texts of every variant,
// matches each text to its nearest record with the embedder and with each lexical
// matcher, and returns the re-identification and attribute-inference findings.
func reidentify(ctx context.Context, c *client, n int, r *rand.Rand, opts Options, model string) ([]scan.Finding, error) {
	records := make([]record, n)
	texts := make([]string, 0, n*(1+len(variants)))
	for i := range records {
		records[i] = record{person: pii.NewPerson(r), condition: conditions[r.IntN(len(conditions))]}
		texts = append(texts, records[i].text())
	}
	for _, v := range variants {
		for i := range records {
			texts = append(texts, v.make(r, records[i].person))
		}
	}
	before := c.requests.Load()
	vecs, err := c.embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	recVecs := vecs[:n]
	lex := newLexicalMatchers(texts[:n])
	q := n * len(variants)
	emb := newHits(q)
	lexHits := make([]hits, len(lex))
	for i := range lex {
		lexHits[i] = newHits(q)
	}
	judge := func(h hits, k, truth int, ranked []int) {
		h.top1[k] = ranked[0] == truth
		for _, j := range ranked {
			h.top5[k] = h.top5[k] || j == truth
		}
		h.attr[k] = records[ranked[0]].condition == records[truth].condition
	}
	for vi := range variants {
		for i := range records {
			k := vi*n + i
			judge(emb, k, i, nearest(vecs[n+k], recVecs, 5))
			for li, m := range lex {
				judge(lexHits[li], k, i, m.rank(texts[n+k], 5))
			}
		}
	}
	res := reidResult{records: records, texts: texts, emb: emb, lex: lex, lexHits: lexHits, requests: int(c.requests.Load() - before)}
	return res.findings(opts, model), nil
}

type reidResult struct {
	records  []record
	texts    []string
	emb      hits
	lex      []*lexicalMatcher
	lexHits  []hits
	requests int
}

// comparison is the embedder against the better lexical matcher on one slice of
// the queries, paired query by query.
type comparison struct {
	queries             int
	embTop1, embTop5    int
	lexTop1, lexTop5    int
	lexName             string
	embOnly, lexOnly    int // McNemar's discordant pairs at top 1
	pValue, excess      float64
	lexPerMatcherTop1   map[string]float64
	embAttr, lexAttr    int
	attrEmbOnly, attrLx int
}

func (res reidResult) compare(lo, hi int) comparison {
	cmpn := comparison{queries: hi - lo, lexPerMatcherTop1: map[string]float64{}}
	best := 0
	for i, h := range res.lexHits {
		t := count(h.top1[lo:hi])
		cmpn.lexPerMatcherTop1[res.lex[i].name] = round3(float64(t) / float64(hi-lo))
		if t > count(res.lexHits[best].top1[lo:hi]) {
			best = i
		}
	}
	lh := res.lexHits[best]
	cmpn.lexName = res.lex[best].name
	for k := lo; k < hi; k++ {
		e, l := res.emb.top1[k], lh.top1[k]
		cmpn.embTop1 += b2i(e)
		cmpn.lexTop1 += b2i(l)
		cmpn.embTop5 += b2i(res.emb.top5[k])
		cmpn.lexTop5 += b2i(lh.top5[k])
		cmpn.embOnly += b2i(e && !l)
		cmpn.lexOnly += b2i(l && !e)
		cmpn.embAttr += b2i(res.emb.attr[k])
		cmpn.lexAttr += b2i(lh.attr[k])
		cmpn.attrEmbOnly += b2i(res.emb.attr[k] && !lh.attr[k])
		cmpn.attrLx += b2i(lh.attr[k] && !res.emb.attr[k])
	}
	cmpn.pValue = mcnemar(cmpn.embOnly, cmpn.lexOnly)
	q := float64(cmpn.queries)
	cmpn.excess = excess(float64(cmpn.embTop1)/q, float64(cmpn.lexTop1)/q)
	return cmpn
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mcnemar is the exact one-sided McNemar p-value that the first matcher is better:
// of the pairs where the two disagree, P(X ≥ a) for X ~ Binomial(a+b, 1/2).
func mcnemar(a, b int) float64 {
	if a+b == 0 {
		return 1
	}
	return binomialTail(a, a+b, 0.5)
}

func (res reidResult) findings(opts Options, model string) []scan.Finding {
	n := len(res.records)
	chance1, chance5 := 1/float64(n), math.Min(5/float64(n), 1)
	all := res.compare(0, len(res.emb.top1))
	// Each variant is tested on its own (an attacker uses whichever auxiliary text
	// he holds), so the significance level is split between them (Bonferroni).
	alpha := significance / float64(len(variants))
	score, worst := 0.0, ""
	per := map[string]any{}
	for vi, v := range variants {
		c := res.compare(vi*n, (vi+1)*n)
		per[v.name] = map[string]any{
			"queries":         c.queries,
			"top1_rate":       rate(c.embTop1, c.queries),
			"top5_rate":       rate(c.embTop5, c.queries),
			"top1_hits":       c.embTop1,
			"lexical_top1":    rate(c.lexTop1, c.queries),
			"lexical_top1_by": c.lexPerMatcherTop1,
			"lexical_hits":    c.lexTop1,
			"lexical_matcher": c.lexName,
			"embedder_only":   c.embOnly,
			"lexical_only":    c.lexOnly,
			"p_value":         c.pValue,
			"excess":          round3(c.excess),
		}
		if c.pValue < alpha && 10*c.excess > score {
			score, worst = 10*c.excess, v.name
		}
	}
	ev := map[string]any{
		"model":                model,
		"seed":                 opts.Seed,
		"records":              n,
		"queries":              all.queries,
		"top1_rate":            rate(all.embTop1, all.queries),
		"top5_rate":            rate(all.embTop5, all.queries),
		"top1_hits":            all.embTop1,
		"top5_hits":            all.embTop5,
		"lexical_top1_rate":    rate(all.lexTop1, all.queries),
		"lexical_top5_rate":    rate(all.lexTop5, all.queries),
		"lexical_top1_hits":    all.lexTop1,
		"lexical_top5_hits":    all.lexTop5,
		"lexical_matchers":     []string{lexWord, lexChar3},
		"embedder_only_hits":   all.embOnly,
		"lexical_only_hits":    all.lexOnly,
		"p_value_vs_lexical":   all.pValue,
		"chance_top1":          round3(chance1),
		"chance_top5":          round3(chance5),
		"p_value_vs_chance":    binomialTail(all.embTop1, all.queries, chance1),
		"per_variant":          per,
		"requests":             res.requests,
		"significance_per_arm": alpha,
		"method": "cosine nearest neighbour of each auxiliary text among the embedded records, against the better of two lexical matchers " +
			"(TF-IDF over words, TF-IDF over character trigrams) on the same records and texts; scored on the variant where the embedder " +
			"beats the lexical matcher most, by an exact one-sided McNemar test",
	}
	if worst != "" {
		ev["worst_variant"] = worst
	}
	if aux, match, ok := res.example(); ok {
		ev["example_auxiliary_text"] = pii.Mask(aux)
		ev["example_matched_record"] = pii.Mask(match)
	}
	score = roundScore(score)
	reid := scan.Finding{
		ScanType:    scan.EmbeddingReidentification,
		RuleID:      string(scan.EmbeddingReidentification) + ".reidentification",
		Severity:    scan.SeverityForScore(score),
		Score:       score,
		Title:       res.reidTitle(score, worst, all),
		Evidence:    ev,
		Remediation: "Treat embeddings of personal records as personal data: restrict access to the vector store, do not expose raw vectors or similarity search to untrusted callers, and strip direct identifiers (names, contact details, birth dates) before embedding; consider noise addition or per-tenant keys.",
		Target:      opts.Target,
	}
	conditionCount := map[string]int{}
	for _, rec := range res.records {
		conditionCount[rec.condition]++
	}
	majority := 0
	for _, c := range conditionCount {
		majority = max(majority, c)
	}
	t := all.queries
	acc, lexAcc := rate(all.embAttr, t), rate(all.lexAttr, t)
	baseline := math.Max(float64(majority)/float64(n), float64(all.lexAttr)/float64(t))
	pa := mcnemar(all.attrEmbOnly, all.attrLx)
	pm := binomialTail(all.embAttr, t, float64(majority)/float64(n))
	ascore := 0.0
	if pa < significance && pm < significance {
		ascore = 8 * excess(float64(all.embAttr)/float64(t), baseline)
	}
	ascore = roundScore(ascore)
	attr := scan.Finding{
		ScanType: scan.EmbeddingReidentification,
		RuleID:   string(scan.EmbeddingReidentification) + ".attribute_inference",
		Severity: scan.SeverityForScore(ascore),
		Score:    ascore,
		Title:    attrTitle(ascore, acc, lexAcc),
		Evidence: map[string]any{
			"model": model, "seed": opts.Seed, "records": n, "queries": t,
			"attribute":           "medical condition (held out of every auxiliary text)",
			"accuracy":            acc,
			"hits":                all.embAttr,
			"lexical_accuracy":    lexAcc,
			"lexical_hits":        all.lexAttr,
			"embedder_only_hits":  all.attrEmbOnly,
			"lexical_only_hits":   all.attrLx,
			"p_value_vs_lexical":  pa,
			"baseline_majority":   rate(majority, n),
			"p_value_vs_majority": pm,
			"method":              "the nearest record's condition is taken as the guess, by the embedder and by the better lexical matcher",
		},
		Remediation: "Keep sensitive attributes out of embedded text or in a separately access-controlled store; an attacker who can query nearest neighbours can read them off the matched record.",
		Target:      opts.Target,
	}
	return []scan.Finding{reid, attr}
}

// example returns an auxiliary text the embedder matched to its record, preferring
// one the lexical matchers missed.
func (res reidResult) example() (aux, match string, ok bool) {
	n := len(res.records)
	pick := -1
	for k, e := range res.emb.top1 {
		if !e {
			continue
		}
		lexMissed := true
		for _, h := range res.lexHits {
			lexMissed = lexMissed && !h.top1[k]
		}
		if lexMissed {
			pick = k
			break
		}
		if pick < 0 {
			pick = k
		}
	}
	if pick < 0 {
		return "", "", false
	}
	return res.texts[n+pick], res.texts[pick%n], true
}

func (res reidResult) reidTitle(score float64, worst string, all comparison) string {
	if score == 0 {
		return fmt.Sprintf("Embeddings re-identify people no better than a lexical matcher on the same text (top-1 %.1f%% vs %.1f%% lexical, %.1f%% chance)",
			100*rate(all.embTop1, all.queries), 100*rate(all.lexTop1, all.queries), 100/float64(len(res.records)))
	}
	n := len(res.records)
	for vi, v := range variants {
		if v.name == worst {
			c := res.compare(vi*n, (vi+1)*n)
			return fmt.Sprintf("Embeddings re-identify people beyond what the text alone gives (%s descriptions: top-1 %.1f%% vs %.1f%% for a lexical matcher)",
				strings.ReplaceAll(worst, "_", " "), 100*rate(c.embTop1, c.queries), 100*rate(c.lexTop1, c.queries))
		}
	}
	return "Embeddings re-identify people beyond what the text alone gives"
}

func attrTitle(score, acc, lexAcc float64) string {
	if score == 0 {
		return fmt.Sprintf("Embeddings did not reveal a held-out attribute beyond a lexical matcher (%.1f%% vs %.1f%%)", 100*acc, 100*lexAcc)
	}
	return fmt.Sprintf("Embeddings reveal a held-out sensitive attribute through nearest neighbours (%.1f%% vs %.1f%% for a lexical matcher)", 100*acc, 100*lexAcc)
}

func rate(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return round3(float64(k) / float64(n))
}
