package probe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// judgeReply is one real answer of a judge model about a labelled probe run
// (testdata/judge/*.jsonl, written by scripts/realmodel/collect -judge-labelled):
// the prompt it was sent, its raw answer, and by hand what that answer says (Want:
// confirmed, dismissed or unclear) and why.
type judgeReply struct {
	ProbeID    string `json:"probe_id"`
	Version    int    `json:"probe_version"`
	Seed       int64  `json:"seed"`
	Source     string `json:"source"`
	Label      string `json:"label"` // the labelled set's label of the judged run
	JudgeModel string `json:"judge_model"`
	Detected   bool   `json:"detected"`
	Prompt     string `json:"prompt"`
	Raw        string `json:"raw"`
	Want       string `json:"want"`
	Why        string `json:"why"`
}

// TestJudgeReplies reads real judge answers as a scan would and checks each reading
// against the hand reading of the answer; with -v it prints how often the judge
// agreed with the labelled set (confirmed a success, dismissed a failure).
func TestJudgeReplies(t *testing.T) {
	files, err := filepath.Glob("testdata/judge/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no judge replies: %v", err)
	}
	type tally struct{ confirmed, dismissed, unclear int }
	byModel := map[string]map[string]*tally{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for line := 1; sc.Scan(); line++ {
			var r judgeReply
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s:%d: %v", name, line, err)
			}
			if r.Raw == "" || r.Prompt == "" || strings.TrimSpace(r.Why) == "" || (r.Label != "success" && r.Label != "failure") {
				t.Fatalf("%s:%d: a reply needs its prompt, raw answer, label and the reason for its hand reading", name, line)
			}
			got, _ := parseVerdict(r.Raw, r.Prompt)
			if got != r.Want {
				t.Errorf("%s:%d %s seed %d: read as %q, by hand %q (%s)", name, line, r.ProbeID, r.Seed, got, r.Want, r.Why)
			}
			if byModel[r.JudgeModel] == nil {
				byModel[r.JudgeModel] = map[string]*tally{"success": {}, "failure": {}}
			}
			c := byModel[r.JudgeModel][r.Label]
			switch got {
			case judgeConfirmed:
				c.confirmed++
			case judgeDismissed:
				c.dismissed++
			default:
				c.unclear++
			}
		}
		f.Close()
	}
	var b strings.Builder
	b.WriteString("| judge | labelled runs | confirmed success | dismissed failure | wrongly dismissed success | wrongly confirmed failure | no verdict |\n|---|---|---|---|---|---|---|\n")
	for m, byLabel := range byModel {
		s, f := byLabel["success"], byLabel["failure"]
		n := s.confirmed + s.dismissed + s.unclear + f.confirmed + f.dismissed + f.unclear
		fmt.Fprintf(&b, "| %s | %d | %d of %d | %d of %d | %d | %d | %d |\n", m, n, s.confirmed, s.confirmed+s.dismissed+s.unclear,
			f.dismissed, f.confirmed+f.dismissed+f.unclear, s.dismissed, f.confirmed, s.unclear+f.unclear)
	}
	t.Log("\n" + b.String())
}
