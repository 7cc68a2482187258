package artifact

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"mirror/internal/scan"
)

// describeFile returns a file's size, detected format, the ML framework that
// format implies and, when hash is set, its SHA-256. The hash reads the whole
// file; ctx cancels it between reads.
func describeFile(ctx context.Context, p string, hash bool) (scan.File, error) {
	fi := scan.File{Path: p, Format: "unknown"}
	f, err := os.Open(p)
	if err != nil {
		return fi, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fi, err
	}
	fi.Size = st.Size()
	if fi.Format, err = DetectFileFormat(f, fi.Size, p); err != nil {
		return fi, err
	}
	fi.Framework = framework(f, fi.Size, fi.Format, p)
	if !hash {
		return fi, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.NewSectionReader(f, 0, fi.Size)}); err != nil {
		return fi, fmt.Errorf("read %s: %w", p, err)
	}
	fi.SHA256 = hex.EncodeToString(h.Sum(nil))
	return fi, nil
}

// framework names the ML framework a file belongs to, from its format, its name's
// extension and, for zip archives, its member names: "pytorch", "keras",
// "tensorflow", "scikit-learn", "numpy", "onnx", "gguf" (llama.cpp), "safetensors"
// or "" when nothing says.
func framework(r io.ReaderAt, size int64, format, name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	switch format {
	case "safetensors":
		return "safetensors"
	case "gguf":
		return "gguf"
	case "onnx", "onnx external data", "onnx tensor":
		return "onnx"
	case "hdf5":
		return "keras"
	case "savedmodel", "keras metadata", "tensorflow graphdef", "tensorflow checkpoint index", "tensorflow checkpoint data", "tensorflow fingerprint", "tflite":
		return "tensorflow"
	case "npy":
		return "numpy"
	case "executorch":
		return "pytorch" // ExecuTorch is PyTorch's on-device runtime
	case "zip":
		if zr, err := zip.NewReader(r, size); err == nil {
			for _, m := range zr.File {
				switch base := path.Base(m.Name); {
				case base == "data.pkl" || base == "constants.pkl":
					return "pytorch"
				case base == "saved_model.pb":
					return "tensorflow"
				case m.Name == "config.json" && (ext == ".keras"):
					return "keras"
				}
			}
		}
		if ext == ".npz" {
			return "numpy"
		}
	case "pickle", "pickle (protocol 0/1)":
		switch ext {
		case ".pt", ".pth", ".bin", ".ckpt":
			return "pytorch"
		case ".joblib", ".skops":
			return "scikit-learn"
		}
	}
	switch ext {
	case ".pb":
		return "tensorflow"
	case ".keras", ".h5":
		return "keras"
	}
	return ""
}
