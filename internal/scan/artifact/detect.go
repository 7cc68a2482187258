package artifact

import (
	"context"
	"errors"
	"io"
)

// DetectFormat names the format of size bytes of r as the scanner recognises it
// from their content (never from a file name): "pickle", "zip", "safetensors",
// "gguf", "onnx", "hdf5", "npy", "tar", a compression ("gzip", "xz", …), "json",
// "text", "empty" or "unknown". Reports use it to describe each scanned file.
func DetectFormat(r io.ReaderAt, size int64) (string, error) {
	return DetectFileFormat(r, size, "")
}

// DetectFileFormat is DetectFormat for a file stored at fsPath, whose siblings
// may describe it: a TensorFlow checkpoint's data shard, raw bytes, is
// "tensorflow checkpoint data" when its index is beside it.
func DetectFileFormat(r io.ReaderAt, size int64, fsPath string) (string, error) {
	if fsPath != "" && looksTFShard(fsPath) {
		return string(fmtTFData), nil
	}
	head := make([]byte, min(max(size, 0), 4096))
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	s := newScanner(Options{}.withDefaults())
	f := s.sniff(head[:n], size)
	if f == fmtUnknown {
		f = sniffMore(head[:n], r, size)
	}
	if f == fmtUnknown {
		f, _, _ = describedData(context.Background(), fsPath, Options{}.withDefaults())
	}
	if f == fmtText && looksOpenVINO(head[:n]) {
		f = fmtOpenVINO
	}
	if d := dataFormat(head[:n]); f == fmtUnknown && d != "" {
		f = d // datafmt.go
	}
	return string(f), nil
}
