package embedding

import (
	"math"
	"strings"
	"unicode"
)

// lexicalMatcher is the plain-text baseline the embedder is measured against: a
// TF-IDF vector space fitted on the records (sublinear term frequency, smoothed
// inverse document frequency, L2-normalised, as scikit-learn's TfidfVectorizer with
// sublinear_tf) over either word tokens or character n-grams. It needs the records'
// plaintext, which an attacker holding only vectors does not have; what it achieves
// is what the auxiliary text alone gives away, so only re-identification beyond it
// is held against the embedder.
type lexicalMatcher struct {
	name    string
	terms   func(string) []string
	idf     map[string]float64
	records []sparse
}

// sparse is an L2-normalised sparse vector.
type sparse map[string]float64

// Names of the lexical matchers.
const (
	lexWord  = "tfidf_word"
	lexChar3 = "tfidf_char3"
)

func newLexicalMatchers(records []string) []*lexicalMatcher {
	return []*lexicalMatcher{
		fitLexical(lexWord, wordTokens, records),
		fitLexical(lexChar3, charNgrams(3), records),
	}
}

func fitLexical(name string, terms func(string) []string, records []string) *lexicalMatcher {
	m := &lexicalMatcher{name: name, terms: terms, idf: map[string]float64{}}
	df := map[string]int{}
	counts := make([]map[string]int, len(records))
	for i, r := range records {
		counts[i] = termCounts(terms(r))
		for t := range counts[i] {
			df[t]++
		}
	}
	n := float64(len(records))
	for t, d := range df {
		m.idf[t] = math.Log((1+n)/(1+float64(d))) + 1
	}
	m.records = make([]sparse, len(records))
	for i, c := range counts {
		m.records[i] = m.weigh(c)
	}
	return m
}

func termCounts(ts []string) map[string]int {
	c := make(map[string]int, len(ts))
	for _, t := range ts {
		c[t]++
	}
	return c
}

// weigh turns term counts into a normalised TF-IDF vector; terms the records never
// use carry no weight (they cannot match anything).
func (m *lexicalMatcher) weigh(c map[string]int) sparse {
	v := make(sparse, len(c))
	s := 0.0
	for t, k := range c {
		idf, ok := m.idf[t]
		if !ok {
			continue
		}
		w := (1 + math.Log(float64(k))) * idf
		v[t] = w
		s += w * w
	}
	if s > 0 {
		norm := math.Sqrt(s)
		for t := range v {
			v[t] /= norm
		}
	}
	return v
}

// rank returns the indices of the k records most similar to q, best first, ties in
// index order.
func (m *lexicalMatcher) rank(q string, k int) []int {
	qv := m.weigh(termCounts(m.terms(q)))
	scores := make([]float64, len(m.records))
	for i, r := range m.records {
		small, big := qv, r
		if len(small) > len(big) {
			small, big = big, small
		}
		for t, w := range small {
			scores[i] += w * big[t]
		}
	}
	return topK(scores, k)
}

// wordTokens splits lower-cased text into runs of letters and digits.
func wordTokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// charNgrams returns a function giving the character n-grams of the lower-cased
// text with runs of spaces and punctuation folded to one space and a space added at
// both ends (scikit-learn's char_wb analyser, across word boundaries).
func charNgrams(n int) func(string) []string {
	return func(s string) []string {
		t := []rune(" " + strings.Join(wordTokens(s), " ") + " ")
		out := make([]string, 0, max(len(t)-n+1, 0))
		for i := 0; i+n <= len(t); i++ {
			out = append(out, string(t[i:i+n]))
		}
		return out
	}
}

// topK returns the indices of the k highest scores, best first; ties keep index
// order, so results are deterministic.
func topK(scores []float64, k int) []int {
	type scored struct {
		i int
		s float64
	}
	best := make([]scored, 0, k+1)
	for i, s := range scores {
		pos := len(best)
		for pos > 0 && best[pos-1].s < s {
			pos--
		}
		if pos < k {
			best = append(best, scored{})
			copy(best[pos+1:], best[pos:])
			best[pos] = scored{i, s}
			if len(best) > k {
				best = best[:k]
			}
		}
	}
	out := make([]int, len(best))
	for i, b := range best {
		out[i] = b.i
	}
	return out
}
