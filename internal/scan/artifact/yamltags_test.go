package artifact

import (
	"testing"

	"mirror/internal/scan"
)

// TestYAMLTagSpellings: PyYAML resolves %TAG handles and decodes %XX escapes
// in tags before it looks up their constructors, so a tag spelled through a
// handle or with escapes calls the same function as the plain spelling; and a
// tag naming a model ecosystem's function or loader class is judged as in a
// pickle (object/new builds with __new__ alone, so a loader class there
// stays quiet).
func TestYAMLTagSpellings(t *testing.T) {
	cases := []struct {
		name, text, rule string
		sev              scan.Severity
	}{
		{"named handle", "%TAG !p! tag:yaml.org,2002:python/object/apply:\n---\na: !p!os.system [id]\n", "yaml.python_call", scan.Critical},
		{"secondary handle redefined", "%TAG !! tag:yaml.org,2002:python/\n---\na: !!object/apply:os.system [id]\n", "yaml.python_call", scan.Critical},
		{"primary handle", "%TAG ! tag:yaml.org,2002:python/object/apply:\n---\n- !subprocess.check_output [[id]]\n", "yaml.python_call", scan.Critical},
		{"escaped name", "a: !!python/object/apply:%6Fs.system [id]\n", "yaml.python_call", scan.Critical},
		{"escaped slash", "a: !!python%2Fobject%2Fapply:os.system [id]\n", "yaml.python_call", scan.Critical},
		{"verbatim escaped", "a: !<tag:yaml.org,2002:python/object/apply:os%2Esystem> [id]\n", "yaml.python_call", scan.Critical},
		{"escaped module", "a: !!python/module:%6fs\n", "yaml.python_import", scan.High},
		{"ecosystem function", "a: !!python/object/apply:keras.src.saving.saving_api.load_model [/tmp/m.keras]\n", "yaml.unknown_call", scan.High},
		{"ecosystem loader", "a: !!python/object/apply:sentence_transformers.SentenceTransformer [attacker/model]\n", "yaml.python_call", scan.Critical},
		{"nested loader", "a: !!python/object/apply:torch.storage._load_from_bytes [!!binary gAJ9cQAu]\n", "yaml.python_call", scan.Critical},
		{"loader built without __init__", "a: !!python/object/new:sentence_transformers.SentenceTransformer {state: {}}\n", "", ""},
		{"ecosystem class", "a: !!python/object:keras.src.layers.core.dense.Dense {}\n", "", ""},
		{"percent in text", "ratio: 50%\nnote: '!!python is 100% fine'\n", "", ""},
	}
	for _, c := range cases {
		fs, _ := scanBytes(t, "config.yaml", []byte(c.text))
		if c.rule == "" {
			if bad := atOrAbove(fs, scan.Medium); len(bad) != 0 {
				t.Errorf("%s: %v", c.name, bad)
			}
			continue
		}
		found := false
		for _, f := range withRule(fs, c.rule) {
			found = found || f.Severity == c.sev
		}
		if !found {
			t.Errorf("%s: want %s %s, got %v", c.name, c.rule, c.sev, fs)
		}
	}
}
