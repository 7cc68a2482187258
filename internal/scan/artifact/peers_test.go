package artifact

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// TestPeerCorpus checks every file of the peers' suites that
// scripts/peers/make_peer_corpus.py built into MIRROR_PEER_CORPUS (default
// .cache/peers/corpus at the repository root): each file under malicious/ must
// have a finding at high or above, each under benign/ none at medium or above.
// The corpus needs the peers' libraries from PyPI, so without it the test skips
// (MIRROR_REQUIRE_PEERS=1 makes that a failure, for CI after .ci/artifact.sh).
func TestPeerCorpus(t *testing.T) {
	dir := os.Getenv("MIRROR_PEER_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", ".cache", "peers", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "malicious")); err != nil {
		if os.Getenv("MIRROR_REQUIRE_PEERS") == "1" {
			t.Fatalf("peer corpus missing at %s (run scripts/peers/setup.sh): %v", dir, err)
		}
		t.Skipf("peer corpus not built at %s (scripts/peers/setup.sh builds it)", dir)
	}
	counts := map[string]int{}
	for _, verdict := range []string{"malicious", "benign"} {
		err := filepath.WalkDir(filepath.Join(dir, verdict), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			suite := strings.SplitN(filepath.ToSlash(rel), "/", 3)[1]
			counts[verdict+"/"+suite]++
			f, _, err := ScanFile(context.Background(), p, rel, Options{})
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			switch verdict {
			case "malicious":
				if len(atOrAbove(f, scan.High)) == 0 {
					t.Errorf("%s: malicious file below high: %+v", rel, f)
				}
			default:
				for _, x := range atOrAbove(f, scan.Medium) {
					t.Errorf("%s: benign file flagged %s: %s", rel, x.Severity, x.Title)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("files checked: %v", counts)
	if counts["malicious/fickling"] == 0 || counts["malicious/modelscan"] == 0 {
		t.Errorf("corpus incomplete: %v", counts)
	}
}

// TestPicklescanSuite checks Mirror against picklescan's own test files, kept in
// testdata/picklescan (MIT, see its README.md): every file of its tests/data and
// tests/data2 and every file its test_scanner.py builds, each with the verdict
// test_scanner.py expects (expect.tsv). A malicious file needs a finding at high
// or above, which is what makes `mirror scan` exit 1; a benign file none at
// medium or above. Every file in the folders must have a line, and every line a
// file, so a file added or lost cannot pass unchecked.
func TestPicklescanSuite(t *testing.T) {
	dir := filepath.Join("testdata", "picklescan")
	raw, err := os.ReadFile(filepath.Join(dir, "expect.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rel, verdict, ok := strings.Cut(line, "\t")
		if !ok || (verdict != "malicious" && verdict != "benign") {
			t.Fatalf("expect.tsv: bad line %q", line)
		}
		want[rel] = verdict
	}
	var files []string
	for _, sub := range []string{"data", "data2", "generated"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			files = append(files, sub+"/"+e.Name())
		}
	}
	if len(files) != len(want) {
		t.Errorf("%d files in testdata/picklescan, %d lines in expect.tsv", len(files), len(want))
	}
	counts := map[string]int{}
	for _, rel := range files {
		verdict, ok := want[rel]
		if !ok {
			t.Errorf("%s: no verdict in expect.tsv", rel)
			continue
		}
		counts[verdict]++
		f, _, err := ScanFile(context.Background(), filepath.Join(dir, rel), rel, Options{})
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if verdict == "malicious" {
			if len(atOrAbove(f, scan.High)) == 0 {
				t.Errorf("%s: malicious file below high: %+v", rel, f)
			}
			continue
		}
		for _, x := range atOrAbove(f, scan.Medium) {
			t.Errorf("%s: benign file flagged %s: %s", rel, x.Severity, x.Title)
		}
	}
	t.Logf("picklescan's files checked: %v", counts)
}
