package transcript

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"mirror/internal/scan/probe"
)

// TestConcurrentWritesAreWholeLines writes from many goroutines and reads every
// transcript back as one intact JSON line.
func TestConcurrentWritesAreWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.jsonl")
	f, err := Create(path, "test")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Write(probe.Transcript{ProbeID: "p", Seed: int64(i)})
		}()
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seen := map[int64]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var tr probe.Transcript
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		seen[tr.Seed] = true
	}
	if len(seen) != 50 {
		t.Fatalf("read back %d distinct transcripts, want 50", len(seen))
	}
}
