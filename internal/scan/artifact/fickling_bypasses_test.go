package artifact

import (
	"context"
	"path/filepath"
	"testing"

	"mirror/internal/scan"
)

// TestCPythonFramesAreClean: pickles CPython's own pickler wrote (protocols 4
// and 5) with arguments too large for a frame between frames, as it writes
// them; the frame check (TestPickleFrames) must not report them.
func TestCPythonFramesAreClean(t *testing.T) {
	for _, name := range []string{"interleaved_p4.pkl", "interleaved_p5.pkl"} {
		p := filepath.Join("testdata", "frames", name)
		fs, ns, err := ScanFile(context.Background(), p, name, Options{})
		if err != nil || len(fs) != 0 || len(ns) != 0 {
			t.Errorf("%s (written by CPython's pickle): findings %+v, not scanned %+v, err %v", name, fs, ns, err)
		}
	}
}

// TestFicklingSuiteVerdicts: pickles of fickling's test_bypasses.py as its
// Pickled.dumps writes them (its STRING opcode lacks the newline, so CPython
// stops at it, after importing the GLOBAL), and the safe imports the suite
// expects to pass: pure builtins and __future__ flags are not findings, a
// dotted name under __future__ is.
func TestFicklingSuiteVerdicts(t *testing.T) {
	for _, c := range []struct {
		name, b string
		high    bool
	}{
		{"test_unsafe_builtin_eval_still_flagged", "cbuiltins\neval\nS\"print('hello')\"\x85R.", true},
		{"test_builtins_import_bypass", "cbuiltins\n__import__\nS'os'\x85Rp0\n0cbuiltins\ngetattr\ng0\nS'system'\x86Rp1\n0g1\nS'whoami'\x85R.", true},
		{"test_safe_builtins_not_flagged", "cbuiltins\nlen\n]\x85R.", false},
		{"test_safe_builtin_dict_not_flagged", "cbuiltins\ndict\n)R.", false},
		{"test_private_stdlib_allowlist", "\x80\x04\x8c\n__future__\x8c\x0bannotations\x93.", false},
		{"test_private_stdlib_allowlist (anti-widening)", "\x80\x04\x8c\n__future__\x8c\x0f_ssl.RAND_bytes\x93.", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, _ := scanBytes(t, "p.pkl", []byte(c.b))
			high := len(atOrAbove(fs, scan.High)) > 0
			if high != c.high || (!c.high && len(atOrAbove(fs, scan.Medium)) > 0) {
				t.Fatalf("want high=%v, got %+v", c.high, fs)
			}
		})
	}
}

// TestKerasPickles: Keras pickles its models as a nested .keras zip handed to a
// loader (tf_keras' deserialize_model_from_bytecode, Keras 3's
// getattr(cls, "_unpickle_model")(io.BytesIO(zip))). The loader and the getattr
// that reaches it are not findings of their own; the zip is scanned, so a
// Lambda inside is critical, and a plain model is clean (testdata/real holds a
// Keras 3 one, testdata/keras_pickle modelscan's tf_keras one).
func TestKerasPickles(t *testing.T) {
	for _, c := range []struct {
		name, rule string
	}{
		{"lambda_keras3.pkl", "keras.lambda_code"},
		{"tf_keras_dill_exec.pkl", "pickle.dangerous_call"},
		{"tf_keras_pickled.pkl", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join("testdata", "keras_pickle", c.name)
			fs, ns, err := ScanFile(context.Background(), p, c.name, Options{})
			if err != nil || len(ns) != 0 {
				t.Fatalf("err %v, not scanned %+v", err, ns)
			}
			if c.rule == "" {
				if bad := atOrAbove(fs, scan.Medium); len(bad) != 0 {
					t.Fatalf("a plain pickled model: want nothing at medium or above, got %+v", bad)
				}
				return
			}
			if got := withRule(fs, c.rule); len(got) == 0 || got[0].Severity != scan.Critical {
				t.Fatalf("want a critical %s, got %+v", c.rule, fs)
			}
		})
	}
}
