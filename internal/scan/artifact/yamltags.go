package artifact

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// PyYAML's unsafe loaders (yaml.load with Loader=yaml.Loader or UnsafeLoader,
// yaml.unsafe_load) build Python objects from tags: !!python/object/apply:f
// and !!python/object/new:f call f with the node's arguments,
// !!python/object:C rebuilds an instance of C, !!python/name:x and
// !!python/module:m import what they name. Configs shipped with models
// (Lightning's hparams.yaml, NeMo's model_config.yaml) are read with such
// loaders, so each tagged name is judged with the pickle import policy: a
// dangerous one is critical when called and high otherwise, one on no list
// high when called and medium otherwise; NumPy scalars, argparse.Namespace and
// the like (what Lightning writes) pass.
var yamlPythonTag = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:!!|tag:yaml\.org,2002:)python/(object/apply|object/new|object|name|module):([A-Za-z_][\w.]*)`)
})

// checkYAMLTags reports the Python tags in text.
func (s *scanner) checkYAMLTags(l loc, text []byte) {
	if !bytes.Contains(text, []byte("python/")) {
		return
	}
	seen := map[string]bool{}
	for _, m := range yamlPythonTag().FindAllSubmatchIndex(text, 200) {
		kind, target := string(text[m[2]:m[3]]), string(text[m[4]:m[5]])
		if seen[kind+" "+target] {
			continue
		}
		seen[kind+" "+target] = true
		module, name := target, ""
		if kind != "module" {
			i := strings.LastIndexByte(target, '.')
			if i <= 0 {
				module, name = "builtins", target
			} else {
				module, name = target[:i], target[i+1:]
			}
		}
		v := classify(module, name)
		called := kind == "object/apply" || kind == "object/new"
		ev := map[string]any{"format": "yaml", "tag": "python/" + kind, "import": v.name, "called": called, "excerpt": excerpt(string(text), m[0], m[1])}
		switch {
		case v.verdict == verdictDangerous:
			ev["category"] = v.category
			r := ruleYAMLDangerous
			if called {
				r = ruleYAMLDangerousCall
			}
			s.c.add(l, r, int64(m[0]), ev, v.name, v.category, "python/"+kind)
		case v.verdict == verdictUnknown && called && functionLike(name):
			s.c.add(l, ruleYAMLUnknownCall, int64(m[0]), ev, v.name, "python/"+kind)
		case v.verdict == verdictUnknown:
			s.c.add(l, ruleYAMLUnknown, int64(m[0]), ev, v.name, "python/"+kind)
		}
	}
}

// peekText returns up to max bytes of a text region without moving its stream:
// from the file itself when it can be read at any offset, else what the stream
// can buffer (64 KiB).
func peekText(in region, max int64) []byte {
	if in.ra != nil && in.size >= 0 {
		b := make([]byte, min(in.size, max))
		n, _ := in.ra.ReadAt(b, 0)
		return b[:n]
	}
	return in.st.Peek(64 << 10)
}
