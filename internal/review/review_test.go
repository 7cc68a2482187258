package review

import "testing"

func TestWordDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"the cat sat", "the cat sat", 0},
		{"the cat sat", "the  cat\nsat", 0},
		{"the cat sat", "the dog sat", 1},
		{"the cat sat", "the cat sat down", 1},
		{"a b c d", "b c d", 1},
		{"", "one two three", 3},
		{"kitten sitting on mat", "sitting kitten on a mat", 3},
	} {
		if got := WordDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("WordDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := WordDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("WordDistance(%q, %q) = %d, want %d (symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	ten := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		in   []int64
		p    float64
		want int64
	}{
		{nil, 50, 0},
		{[]int64{7}, 95, 7},
		{ten, 50, 5},
		{ten, 95, 10},
		{ten, 90, 9},
		{[]int64{1, 2, 3, 100}, 50, 2},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %d, want %d", tc.in, tc.p, got, tc.want)
		}
	}
}

func TestCSVCellDefusesFormulas(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+x": "'+x", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "plain": "plain", "": "", "a=b": "a=b"} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
