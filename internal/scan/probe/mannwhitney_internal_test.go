package probe

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteForceP enumerates every split of the pooled sample into groups of len(xs)
// and len(ys) and returns the share whose U is at least the observed one.
func bruteForceP(xs, ys []float64) float64 {
	pool := append(append([]float64{}, xs...), ys...)
	n, k := len(pool), len(xs)
	u := func(a, b []float64) float64 {
		s := 0.0
		for _, x := range a {
			for _, y := range b {
				switch {
				case x > y:
					s++
				case x == y:
					s += 0.5
				}
			}
		}
		return s
	}
	obs := u(xs, ys)
	ge, total := 0, 0
	for mask := 0; mask < 1<<n; mask++ {
		var a, b []float64
		for i := range n {
			if mask&(1<<i) != 0 {
				a = append(a, pool[i])
			} else {
				b = append(b, pool[i])
			}
		}
		if len(a) != k {
			continue
		}
		total++
		if u(a, b) >= obs-1e-9 {
			ge++
		}
	}
	return float64(ge) / float64(total)
}

func TestMannWhitneyExact(t *testing.T) {
	if u, p := mannWhitneyGreater([]float64{4, 5, 6}, []float64{1, 2, 3}); u != 9 || math.Abs(p-0.05) > 1e-12 {
		t.Errorf("separated: U=%v p=%v, want 9 and 1/20", u, p)
	}
	if u, p := mannWhitneyGreater([]float64{1, 2, 3}, []float64{4, 5, 6}); u != 0 || p != 1 {
		t.Errorf("reversed: U=%v p=%v", u, p)
	}
	if u, p := mannWhitneyGreater([]float64{2, 2, 2}, []float64{2, 2}); u != 3 || p != 1 {
		t.Errorf("all tied: U=%v p=%v", u, p)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n1, n2 := 2+r.IntN(6), 2+r.IntN(6)
		draw := func(n int) []float64 {
			out := make([]float64, n)
			for i := range out {
				out[i] = float64(r.IntN(6)) // coarse values: many ties
			}
			return out
		}
		xs, ys := draw(n1), draw(n2)
		_, p := mannWhitneyGreater(xs, ys)
		if want := bruteForceP(xs, ys); math.Abs(p-want) > 1e-9 {
			t.Fatalf("trial %d: xs %v ys %v: p=%v, brute force %v", trial, xs, ys, p, want)
		}
	}
}
