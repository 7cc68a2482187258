package scancli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestScanPathsHashesOnlyWhenAsked: the table and SARIF reports do not show
// hashes, so their scans list files without reading them whole.
func TestScanPathsHashesOnlyWhenAsked(t *testing.T) {
	data := []byte("cos\nsystem\n(S'id'\ntR.")
	evil := filepath.Join(t.TempDir(), "evil.pkl")
	if err := os.WriteFile(evil, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	for _, hash := range []bool{false, true} {
		r, err := scanPaths(context.Background(), []string{evil}, hash, io.Discard, newProgress(io.Discard, true, false, "files"))
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if hash {
			want = hex.EncodeToString(sum[:])
		}
		if len(r.Files) != 1 || r.Files[0].SHA256 != want || r.Files[0].Format != "pickle (protocol 0/1)" {
			t.Errorf("hash %v: files %+v", hash, r.Files)
		}
	}
	if !hashedFormats["json"] || !hashedFormats["cyclonedx"] || hashedFormats["table"] || hashedFormats["sarif"] {
		t.Errorf("hashedFormats = %v", hashedFormats)
	}
}
