package artifact

import (
	"bytes"
	"net/url"
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

// yamlTagDirective is a %TAG directive: a handle (!, !! or !name!) and the
// prefix it stands for.
var yamlTagDirective = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^%TAG[ \t]+(!(?:[0-9A-Za-z_-]*!)?)[ \t]+(\S+)`)
})

// yamlTagToken is a node's tag: "!" at the start of a token, then a verbatim
// "<…>" or a handle and suffix, up to white space or a flow indicator.
var yamlTagToken = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[\s\[\]{},])(!(?:<[^>\s]*>|[^\s\[\]{},]*))`)
})

// maxYAMLTagPrefix bounds a %TAG prefix as read: a tag's Python name is a
// dotted path, far shorter.
const maxYAMLTagPrefix = 256

// resolvedYAMLTags calls fn with each tag of text that PyYAML would resolve
// differently from how it is written, in full, with the tag's offset: tags
// through a %TAG directive's handle, and tags with %XX escapes (decoded).
// Only text with a '%' has any.
func resolvedYAMLTags(text []byte, fn func(full string, off int)) {
	if !bytes.Contains(text, []byte("%")) {
		return
	}
	prefixes := map[string]string{"!": "!", "!!": "tag:yaml.org,2002:"}
	redefined := map[string]bool{}
	for _, m := range yamlTagDirective().FindAllSubmatch(text, 100) {
		p := string(m[2])
		prefixes[string(m[1])], redefined[string(m[1])] = p[:min(len(p), maxYAMLTagPrefix)], true
	}
	unescape := func(s string) string {
		if u, err := url.PathUnescape(s); err == nil {
			return u
		}
		return s
	}
	re := yamlTagToken()
	for pos := 0; pos < len(text); {
		m := re.FindSubmatchIndex(text[pos:])
		if m == nil {
			return
		}
		tag, off := string(text[pos+m[2]:pos+m[3]]), pos+m[2]
		pos += max(m[3], 1)
		if strings.HasPrefix(tag, "!<") {
			if strings.Contains(tag, "%") {
				fn(unescape(strings.TrimSuffix(tag[2:], ">")), off)
			}
			continue
		}
		handle, suffix := "!", tag[1:]
		if j := strings.IndexByte(tag[1:], '!'); j >= 0 {
			handle, suffix = tag[:j+2], tag[j+2:]
		}
		prefix, known := prefixes[handle]
		if known && (redefined[handle] || strings.Contains(suffix, "%")) {
			fn(unescape(prefix)+unescape(suffix), off)
		}
	}
}

// checkYAMLTags reports the Python tags in text: as written, then as PyYAML
// resolves them (handles, escapes).
func (s *scanner) checkYAMLTags(l loc, text []byte) {
	seen := map[string]bool{}
	if bytes.Contains(text, []byte("python/")) {
		for _, m := range yamlPythonTag().FindAllSubmatchIndex(text, 200) {
			s.yamlTag(l, string(text[m[2]:m[3]]), string(text[m[4]:m[5]]), text, m[0], m[1], seen)
		}
	}
	last := ""
	resolvedYAMLTags(text, func(full string, off int) {
		if full == last || len(seen) >= 200 {
			return
		}
		last = full
		if kind, target, ok := pythonTag(full); ok {
			s.yamlTag(l, kind, target, text, off, off+1, seen)
		}
	})
}

// pythonTag splits a resolved tag tag:yaml.org,2002:python/KIND:TARGET.
func pythonTag(full string) (kind, target string, ok bool) {
	rest, ok := strings.CutPrefix(full, "tag:yaml.org,2002:python/")
	if !ok {
		return "", "", false
	}
	for _, k := range []string{"object/apply", "object/new", "object", "name", "module"} {
		if t, found := strings.CutPrefix(rest, k+":"); found {
			end := strings.IndexFunc(t, func(r rune) bool {
				return !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			})
			if end < 0 {
				end = len(t)
			}
			if end == 0 || t[0] >= '0' && t[0] <= '9' || t[0] == '.' {
				return "", "", false
			}
			return k, t[:end], true
		}
	}
	return "", "", false
}

// yamlTag reports one Python tag, python/kind:target at text[from:to],
// unless seen.
func (s *scanner) yamlTag(l loc, kind, target string, text []byte, from, to int, seen map[string]bool) {
	if seen[kind+" "+target] {
		return
	}
	seen[kind+" "+target] = true
	lo, hi := max(0, from-64), min(len(text), to+64)
	exc, off := excerpt(string(text[lo:hi]), from-lo, to-lo), int64(from)
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
	ev := map[string]any{"format": "yaml", "tag": "python/" + kind, "import": v.name, "called": called, "excerpt": exc}
	switch {
	case v.verdict == verdictDangerous:
		ev["category"] = v.category
		r := ruleYAMLDangerous
		if called {
			r = ruleYAMLDangerousCall
		}
		s.c.add(l, r, off, ev, v.name, v.category, "python/"+kind)
	case v.verdict == verdictNested && called:
		// the bytes it unpickles are the YAML's, not scanned here
		ev["category"] = "deserialization"
		s.c.add(l, ruleYAMLDangerousCall, off, ev, v.name, "deserialization", "python/"+kind)
	case v.verdict == verdictEcosystem && kind == "object/apply" && isEcosystemLoader(v.name):
		// object/apply runs the constructor; object/new builds with __new__ alone
		ev["category"] = "code_execution"
		s.c.add(l, ruleYAMLDangerousCall, off, ev, v.name, "code_execution", "python/"+kind)
	case v.verdict == verdictEcosystem && called && functionLike(name) && !classLike(name),
		v.verdict == verdictUnknown && called && functionLike(name):
		s.c.add(l, ruleYAMLUnknownCall, off, ev, v.name, "python/"+kind)
	case v.verdict == verdictUnknown:
		s.c.add(l, ruleYAMLUnknown, off, ev, v.name, "python/"+kind)
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
