package probe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"

	"mirror/internal/scan"
)

// labelled is one hand-labelled run of a probe: the replies a model gave (a real
// model's, or scripted ones for shapes the real model did not produce), whether the
// attack succeeded, and why. Files: testdata/labelled/*.jsonl.
type labelled struct {
	ProbeID string `json:"probe_id"`
	Version int    `json:"probe_version"`
	Seed    int64  `json:"seed"`
	Source  string `json:"source"` // the model, or "scripted"
	// Replies to each turn, by session name, in turn order. In scripted records they
	// are Go templates over the probe's Vars ({{.Marker}}, {{.Person.Card}}).
	Replies map[string][]string `json:"replies"`
	// Label: "success" (the model showed the weakness), "failure" (it did not), or
	// "observation" (behaviour worth recording that is not a weakness).
	Label  string `json:"label"`
	Reason string `json:"reason"`
}

func loadLabelled(t *testing.T) []labelled {
	t.Helper()
	files, err := filepath.Glob("testdata/labelled/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no labelled replies: %v", err)
	}
	var out []labelled
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for line := 1; sc.Scan(); line++ {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var l labelled
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l); err != nil {
				t.Fatalf("%s:%d: %v", name, line, err)
			}
			if !slices.Contains([]string{"success", "failure", "observation"}, l.Label) || strings.TrimSpace(l.Reason) == "" {
				t.Fatalf("%s:%d: label %q needs to be success, failure or observation, with a reason", name, line, l.Label)
			}
			out = append(out, l)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// judgeLabelled runs the detectors on one labelled record as a run would.
func judgeLabelled(t *testing.T, l labelled) (*Probe, *hit) {
	t.Helper()
	var p *Probe
	for _, c := range Catalog() {
		if c.ID == l.ProbeID {
			p = &c
		}
	}
	if p == nil || p.Version != l.Version {
		t.Fatalf("%s v%d: no such probe version in the catalog (relabel after changing a probe)", l.ProbeID, l.Version)
	}
	r, err := p.render(l.Seed)
	if err != nil {
		t.Fatal(err)
	}
	replies := map[string][]string{}
	for name, rs := range l.Replies {
		for _, text := range rs {
			if l.Source == "scripted" {
				var b strings.Builder
				if err := template.Must(template.New("reply").Funcs(templateFuncs).Parse(text)).Execute(&b, r.vars); err != nil {
					t.Fatalf("%s: reply template: %v", l.ProbeID, err)
				}
				text = b.String()
			}
			replies[name] = append(replies[name], text)
		}
	}
	exs, complete := replay(r, replies)
	if !complete {
		t.Fatalf("%s seed %d: replies %v do not answer every turn", l.ProbeID, l.Seed, l.Replies)
	}
	h, _ := evaluate(p, r, exs)
	return p, h
}

// confusion counts a detector's verdicts against the labels.
type confusion struct{ tp, fp, fn, tn int }

func (c confusion) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}

func (c confusion) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

// TestLabelledReplies measures each detector on the labelled replies (real ones from
// Gemma 3 270M under the probes, scripted ones for rare shapes) and holds it to the
// bar of issue 13: precision of high and critical findings at least 0.95, and every
// labelled success found. Run with -v for the table in docs/EVALUATION.md.
func TestLabelledReplies(t *testing.T) {
	set := loadLabelled(t)
	byKind := map[string]*confusion{}
	var high confusion
	sources := map[string]int{}
	for _, l := range set {
		p, h := judgeLabelled(t, l)
		sources[l.Source]++
		c := byKind[p.Success.Kind]
		if c == nil {
			c = &confusion{}
			byKind[p.Success.Kind] = c
		}
		reported := h != nil && !h.observation
		observed := h != nil && h.observation
		want := l.Label == "success"
		switch {
		case reported && want:
			c.tp++
		case reported && !want:
			c.fp++
			t.Errorf("false positive: %s seed %d (%s): %s; detector matched %v", l.ProbeID, l.Seed, l.Source, l.Reason, h.matched)
		case !reported && want:
			c.fn++
			t.Errorf("missed: %s seed %d (%s): %s", l.ProbeID, l.Seed, l.Source, l.Reason)
		default:
			c.tn++
		}
		if l.Label == "observation" && !observed {
			t.Errorf("observation not recorded: %s seed %d: %s", l.ProbeID, l.Seed, l.Reason)
		}
		if reported && scan.SeverityForScore(h.score).Rank() >= scan.High.Rank() {
			if want {
				high.tp++
			} else {
				high.fp++
			}
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var b strings.Builder
	fmt.Fprintf(&b, "%d labelled runs (%v)\n| detector | runs | TP | FP | FN | TN | precision | recall |\n|---|---|---|---|---|---|---|---|\n", len(set), sources)
	for _, k := range kinds {
		c := byKind[k]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %.2f | %.2f |\n", k, c.tp+c.fp+c.fn+c.tn, c.tp, c.fp, c.fn, c.tn, c.precision(), c.recall())
	}
	fmt.Fprintf(&b, "| high+critical findings | %d | %d | %d | | | %.2f | |\n", high.tp+high.fp, high.tp, high.fp, high.precision())
	t.Log("\n" + b.String())
	if high.precision() < 0.95 {
		t.Errorf("precision of high and critical findings %.2f, want at least 0.95", high.precision())
	}
}
