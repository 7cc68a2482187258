// Package transcript writes the probe transcripts of a real-model run as JSON
// lines, for the evaluation commands under scripts/realmodel.
package transcript

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"mirror/internal/scan/probe"
)

// File is a JSON-lines file of transcripts that probes may write concurrently.
type File struct {
	name string // the command, prefixed to write errors
	mu   sync.Mutex
	f    *os.File
	enc  *json.Encoder
}

// Create creates (or truncates) path. name is the command, which a failed write
// is reported under on standard error.
func Create(path, name string) (*File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &File{name: name, f: f, enc: json.NewEncoder(f)}, nil
}

// Write appends t as one line; it fits probe.Options.Transcript. A failed write
// is reported on standard error and does not stop the run.
func (f *File) Write(t probe.Transcript) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enc.Encode(t); err != nil {
		fmt.Fprintf(os.Stderr, "%s: write transcript: %v\n", f.name, err)
	}
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }
