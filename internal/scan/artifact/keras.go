package artifact

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// kerasModules are the module prefixes Keras configs legitimately load from.
var kerasModules = []string{"keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras", "keras_nlp", "keras_hub", "keras_cv", "tensorflow_addons", "builtins"}

// tfOpDangerous are TFOpLambda functions that touch files, run Python or call raw ops.
var tfOpDangerous = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(io\.|compat\.v1\.io|raw_ops\.|py_function|numpy_function|compat\.v1\.py_func|debugging\.|summary\.|saved_model\.|data\.experimental\.|strings\.format|print)`)
})

const maxConfigBytes = 64 << 20

// kerasKey is the key every Keras layer and model config object has.
var kerasKey = []byte(`"class_name"`)

// kerasEscape anchors configs whose keys are spelled with \u escapes
// ("class\u005fname"), which json.loads decodes: a key letter can be escaped
// no other way.
var kerasEscape = []byte(`\u`)

// kerasAttrs are the names of the HDF5 attributes Keras stores its JSON in; the
// value follows the name in the attribute message, whatever its keys say.
var kerasAttrs = [][]byte{[]byte("model_config"), []byte("training_config")}

// kerasAttrGap bounds how far after an attribute name its JSON value may start
// (the attribute message's datatype and dataspace lie between).
const kerasAttrGap = 4096

// kerasAnchorMax is the longest anchor.
const kerasAnchorMax = len("training_config")

// scanHDF5 finds Keras model configs inside an HDF5 file without an HDF5 reader:
// Keras stores model_config (and training_config) as JSON strings in attributes,
// so the file is streamed once looking for "class_name" keys (or \u escapes,
// which may spell one). Each is traced back to the start of the JSON text it
// sits in (the first '{' after the last byte no JSON text holds), whatever the
// key order and spacing, and that object is parsed and checked. The attribute
// names are anchors too: the first JSON object after one is its value. Memory
// stays within the stream's window plus the largest config.
func (s *scanner) scanHDF5(ctx context.Context, in region) error {
	st := in.st
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := st.Peek(streamBufSize)
		if len(chunk) < len(kerasEscape) {
			return nil
		}
		i, n := bytes.Index(chunk, kerasKey), len(kerasKey)
		var escStart int
		lim := chunk
		if i >= 0 {
			lim = chunk[:i]
		}
		if k, st := escapeAnchor(lim); k >= 0 {
			i, n, escStart = k, len(kerasEscape), st
		}
		if i >= 0 {
			lim = chunk[:i]
		}
		attr, an := -1, 0
		for _, name := range kerasAttrs {
			if k := bytes.Index(lim, name); k >= 0 && (attr < 0 || k < attr) {
				attr, an = k, len(name)
			}
		}
		if attr >= 0 && (i < 0 || attr < i) {
			end := attr + an + kerasAttrGap
			if end > len(chunk) && len(chunk) == streamBufSize && attr > 0 {
				// Bring the name to the window's start so its value is in view.
				if err := st.Skip(int64(attr)); err != nil {
					return nil
				}
				continue
			}
			start := jsonObjectAfter(chunk[attr+an : min(end, len(chunk))])
			if start < 0 {
				if err := st.Skip(int64(attr + an)); err != nil {
					return nil
				}
				continue
			}
			if err := st.Skip(int64(attr + an + start)); err != nil {
				return nil
			}
			off := st.Offset() - in.base
			if cfg, ok := readJSONObject(st, maxConfigBytes); ok {
				s.checkKerasJSON(ctx, in.l, cfg, off, true)
			}
			continue
		}
		if i < 0 {
			// Keep the trailing run of text: it may be the start of a config
			// whose key lies in the next window.
			skip := len(chunk) - kerasAnchorMax + 1
			if b := lastNonJSONByte(chunk); b >= 0 && b+1 < skip {
				skip = b + 1
			}
			if skip <= 0 {
				return nil
			}
			if err := st.Skip(int64(skip)); err != nil {
				return nil
			}
			continue
		}
		start := escStart
		if n != len(kerasEscape) {
			start = jsonTextStart(chunk[:i])
		}
		if start < 0 {
			if err := st.Skip(int64(i + n)); err != nil {
				return nil
			}
			continue
		}
		if err := st.Skip(int64(start)); err != nil {
			return nil
		}
		off := st.Offset() - in.base
		if cfg, ok := readJSONObject(st, maxConfigBytes); ok {
			s.checkKerasJSON(ctx, in.l, cfg, off, true)
		}
	}
}

// escapeAnchor finds the first \u escape in b that sits in a run of JSON text
// after an object's opening brace, and returns its index and that brace's (the
// start jsonTextStart would give), or -1, -1. Each byte is looked at at most
// twice, however many escapes the text holds.
func escapeAnchor(b []byte) (int, int) {
	done, brace := 0, -1 // b[:done] is examined; brace opens the current run's object
	for from := 0; ; {
		k := bytes.Index(b[from:], kerasEscape)
		if k < 0 {
			return -1, -1
		}
		k += from
		from = k + len(kerasEscape)
		scan := done
		if nb := lastNonJSONByte(b[done:k]); nb >= 0 {
			scan, brace = done+nb+1, -1
		}
		if brace < 0 {
			if j := jsonObjectAfter(b[scan:k]); j >= 0 {
				brace = scan + j
			}
		}
		done = k
		if brace >= 0 {
			return k, brace
		}
	}
}

// jsonObjectAfter is the index of the first '{' in b that opens an object ('{',
// white space, then '"'), or -1.
func jsonObjectAfter(b []byte) int {
	for k := 0; k < len(b); k++ {
		if b[k] != '{' {
			continue
		}
		rest := bytes.TrimLeft(b[k+1:], " \t\r\n")
		if len(rest) > 0 && rest[0] == '"' {
			return k
		}
	}
	return -1
}

// lastNonJSONByte is the index of the last byte in b that cannot occur in JSON
// text (a control character other than white space), or -1.
func lastNonJSONByte(b []byte) int {
	for k := len(b) - 1; k >= 0; k-- {
		if c := b[k]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return k
		}
	}
	return -1
}

// jsonTextStart finds where the JSON object holding a key at len(b) starts: the
// first '{' after the last non-JSON byte that opens an object ('{', white space,
// then '"'), or -1.
func jsonTextStart(b []byte) int {
	from := lastNonJSONByte(b) + 1
	for k := from; k < len(b); k++ {
		if b[k] != '{' {
			continue
		}
		rest := bytes.TrimLeft(b[k+1:], " \t\r\n")
		if len(rest) == 0 || rest[0] == '"' {
			return k
		}
	}
	return -1
}

// readJSONObject reads the JSON object starting at the stream's position, up to
// max bytes. On failure the bytes read so far are consumed (at least one).
func readJSONObject(st *stream, max int) ([]byte, bool) {
	depth, inStr, esc := 0, false, false
	var out []byte
	for len(out) < max {
		c, err := st.ReadByte()
		if err != nil {
			return nil, false
		}
		out = append(out, c)
		switch {
		case inStr:
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return out, true
			}
		case c == 0:
			return nil, false
		}
	}
	return nil, false
}

// checkKerasJSON parses a Keras config (model_config, config.json) and reports
// serialized code and objects loaded from outside Keras. fromH5 marks legacy
// .h5 configs, whose Lambda layers are unmarshalled without any safe mode.
func (s *scanner) checkKerasJSON(ctx context.Context, l loc, raw []byte, off int64, fromH5 bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return
	}
	s.walkKeras(ctx, l, v, "", off, fromH5, 0)
}

func (s *scanner) walkKeras(ctx context.Context, l loc, v any, keyPath string, off int64, fromH5 bool, depth int) {
	if depth > 200 {
		return
	}
	switch t := v.(type) {
	case []any:
		for i, x := range t {
			s.walkKeras(ctx, l, x, fmt.Sprintf("%s[%d]", keyPath, i), off, fromH5, depth+1)
		}
	case map[string]any:
		s.kerasObject(ctx, l, t, keyPath, off, fromH5)
		for k, x := range t {
			s.walkKeras(ctx, l, x, keyPath+"."+k, off, fromH5, depth+1)
		}
	}
}

// kerasObject checks one {"class_name": …, "config": …} object.
func (s *scanner) kerasObject(ctx context.Context, l loc, obj map[string]any, keyPath string, off int64, fromH5 bool) {
	cls, _ := obj["class_name"].(string)
	if cls == "" {
		return
	}
	cfg, _ := obj["config"].(map[string]any)
	ev := func(extra map[string]any) map[string]any {
		m := map[string]any{"format": "keras", "config_key": strings.TrimPrefix(keyPath, "."), "class_name": cls}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	switch cls {
	case "Lambda":
		fn := cfg["function"]
		ftype, _ := cfg["function_type"].(string)
		switch f := fn.(type) {
		case []any:
			code, _ := firstString(f)
			s.c.add(l, ruleKerasLambda, off, ev(map[string]any{"function_type": ftype, "code_excerpt": quote(code, 80)}), "Lambda layer with marshalled bytecode")
		case map[string]any:
			// tf_keras's JSON encoder writes the (code, defaults, closure)
			// tuple as {"class_name": "__tuple__", "items": [...]}
			// (keras_metadata.pb of a SavedModel).
			if items, ok := f["items"].([]any); ok && f["class_name"] == "__tuple__" {
				code, _ := firstString(items)
				s.c.add(l, ruleKerasLambda, off, ev(map[string]any{"function_type": ftype, "code_excerpt": quote(code, 80)}), "Lambda layer with marshalled bytecode")
			}
		case string:
			// A name (function_type "function", resolved among the
			// registered objects) runs nothing of the file's; anything
			// else in the field is code: marshalled bytes, or Python
			// source that a hand-written config carries.
			if ftype == "lambda" || !fromH5 && looksBase64Code(f) || !dottedIdentifier(f) {
				s.c.add(l, ruleKerasLambda, off, ev(map[string]any{"function_type": ftype, "code_excerpt": quote(f, 80)}), "Lambda layer with serialized code")
			}
		}
	case "__lambda__":
		code, _ := cfg["code"].(string)
		s.c.add(l, ruleKerasLambda, off, ev(map[string]any{"code_excerpt": quote(code, 80)}), "serialized lambda function")
	case "TFOpLambda":
		if fn, _ := cfg["function"].(string); tfOpDangerous().MatchString(fn) {
			s.c.add(l, ruleKerasTFOp, off, ev(map[string]any{"function": fn}), "tf."+quote(fn, 80))
		}
	case "TorchModuleWrapper":
		// keras.layers.TorchModuleWrapper keeps torch.save(module) in base64 and
		// runs torch.load (a full pickle) on it when safe mode is off.
		if b64, ok := cfg["module"].(string); ok && b64 != "" {
			s.c.add(l, ruleKerasExternal, off, ev(map[string]any{"config_field": "module", "encoded_bytes": len(b64)}),
				cls, "an embedded torch.save pickle", "torch.load without weights_only")
			s.scanKerasEmbedded(ctx, l, b64, keyPath)
		}
	}
	if cfg != nil {
		for _, k := range kerasExternalKeys {
			if v, ok := cfg[k].(string); ok && strings.TrimSpace(v) != "" {
				s.c.add(l, ruleKerasExternal, off, ev(map[string]any{"config_field": k, "value": quote(v, 200)}),
					cls, quote(v, 120), "config field "+k)
			}
		}
		if kerasLookupLayers[cls] {
			if v, ok := cfg["vocabulary"].(string); ok && v != "" {
				s.c.add(l, ruleKerasReadsFile, off, ev(map[string]any{"config_field": "vocabulary", "value": quote(v, 200)}), cls, quote(v, 120))
			}
		}
	}
	module, _ := obj["module"].(string)
	if module == "" {
		return
	}
	name := cls
	if c, ok := obj["config"].(string); ok && (cls == "function" || cls == "__function__") {
		name = c
	}
	verdict := classify(module, name)
	switch {
	case verdict.verdict == verdictDangerous:
		s.c.add(l, ruleKerasDangerous, off, ev(map[string]any{"module": module, "import": verdict.name, "category": verdict.category}), verdict.name, verdict.category)
	case verdict.verdict == verdictSafe, verdict.verdict == verdictEcosystem:
	case !hasModulePrefix(module, kerasModules):
		s.c.add(l, ruleKerasUnknown, off, ev(map[string]any{"module": module, "import": verdict.name}), verdict.name)
	}
}

func hasModulePrefix(module string, prefixes []string) bool {
	for _, p := range prefixes {
		if module == p || strings.HasPrefix(module, p+".") {
			return true
		}
	}
	return false
}

func firstString(a []any) (string, bool) {
	for _, x := range a {
		if s, ok := x.(string); ok {
			return s, true
		}
	}
	return "", false
}

var base64Code = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9+/=\s]{40,}$`) })

// dottedIdentifier reports whether s is a Python name, possibly dotted or with
// Keras' package>name registration prefix.
func dottedIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '>' }) {
		for i, r := range part {
			if !(r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r)) {
				return false
			}
		}
	}
	return true
}

func looksBase64Code(s string) bool { return base64Code().MatchString(s) }

// scanJSON checks JSON files: chat templates in tokenizer configs, Keras configs,
// and transformers' auto_map (custom code run with trust_remote_code).
func (s *scanner) scanJSON(ctx context.Context, in region) error {
	if templateByName(in.l) {
		return s.scanTemplateFile(in)
	}
	if in.size > maxConfigBytes || in.size < 0 {
		return s.scanJSONStream(in)
	}
	raw, err := io.ReadAll(io.LimitReader(in.st, maxConfigBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", in.l.where(), err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		if !jsonByName(in.l) && utf8.Valid(raw) {
			return nil // text that opens with a bracket ("[PAD]" in vocab.txt): no code
		}
		s.c.skip(in.l, "JSON does not parse (%v); not scanned", err)
		return nil
	}
	obj, _ := v.(map[string]any)
	if obj != nil {
		s.jsonTemplates(in.l, obj)
		s.checkWeightMap(in.l, obj) // datafiles.go
		if isSkopsSchema(obj) {
			s.checkSkops(in.l, obj) // skops.go
		}
		if am, ok := obj["auto_map"].(map[string]any); ok && len(am) > 0 {
			s.c.add(in.l, rulePythonSource, -1, map[string]any{"config_key": "auto_map", "auto_map": fmt.Sprint(am)}, "config auto_map points at custom code")
		}
	}
	s.walkKeras(ctx, in.l, v, "", -1, false, 0)
	return nil
}

// jsonByName reports whether the file or member is named as JSON: one that then
// does not parse is "not scanned" (its chat template or config could not be checked),
// while any other text that merely opens with a bracket (a vocab.txt beginning
// "[PAD]") is plain text, which carries no code.
func jsonByName(l loc) bool {
	name := l.member
	if name == "" {
		name = l.file
	}
	return strings.EqualFold(path.Ext(name), ".json")
}

// jsonTemplates checks chat_template values: a string, or a list of
// {"name", "template"} objects.
func (s *scanner) jsonTemplates(l loc, obj map[string]any) {
	switch t := obj["chat_template"].(type) {
	case string:
		s.checkTemplate(l, "chat_template", t, -1)
	case []any:
		for i, x := range t {
			if m, ok := x.(map[string]any); ok {
				if tmpl, ok := m["template"].(string); ok {
					s.checkTemplate(l, fmt.Sprintf("chat_template[%d]", i), tmpl, -1)
				}
			}
		}
	}
}

// scanJSONStream handles JSON too large to decode whole (tokenizer.json): it walks
// tokens and checks only chat_template strings at the top level.
func (s *scanner) scanJSONStream(in region) error {
	dec := json.NewDecoder(in.st)
	depth, tokens := 0, 0
	expectKey := false
	lastKey := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if !jsonByName(in.l) && depth <= 1 && tokens < 2 {
				return nil // text that opens with a bracket, not JSON: no code
			}
			s.c.skip(in.l, "JSON does not parse (%v); rest not scanned", err)
			return nil
		}
		tokens++
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
			} else {
				depth--
			}
			expectKey = t == '{' && depth == 1
		case string:
			if depth == 1 && expectKey {
				lastKey = t
				expectKey = false
				continue
			}
			if depth == 1 && lastKey == "chat_template" {
				s.checkTemplate(in.l, "chat_template", t, -1)
			}
		}
		if depth == 1 {
			expectKey = true
		}
	}
}

// pythonDangerous are calls in shipped Python source that reach the host.
var pythonDangerous = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\b(os\.system|os\.popen|subprocess\.|eval\s*\(|exec\s*\(|__import__\s*\(|socket\.socket|requests\.(get|post)|urllib\.request|marshal\.loads|pickle\.loads|base64\.b64decode|ctypes\.|shutil\.rmtree)`)
})

// scanText handles plain text: Python source shipped beside a model is code
// that runs under trust_remote_code; other text carries no code.
func (s *scanner) scanText(ctx context.Context, in region) error {
	if templateByName(in.l) {
		return s.scanTemplateFile(in)
	}
	if looksOpenVINO(in.st.Peek(512)) {
		return s.scanOpenVINO(ctx, in) // datafiles.go
	}
	name := in.l.member
	if name == "" {
		name = in.l.file
	}
	if path.Ext(name) != ".py" {
		// yamltags.go: any text, whatever its name, read without consuming
		// the stream (the caller may still salvage it as a pickle);
		// documentation (.md, .rst) that quotes a tag is not a config
		if ext := strings.ToLower(path.Ext(name)); ext != ".md" && ext != ".rst" {
			s.checkYAMLTags(in.l, peekText(in, 16<<20))
		}
		return nil
	}
	src, err := io.ReadAll(io.LimitReader(in.st, 16<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", in.l.where(), err)
	}
	if m := pythonDangerous().FindIndex(src); m != nil {
		s.c.add(in.l, rulePythonDangerous, int64(m[0]), map[string]any{"match": quote(string(src[m[0]:m[1]]), 80), "excerpt": excerpt(string(src), m[0], m[1])}, quote(string(src[m[0]:m[1]]), 40))
		return nil
	}
	s.c.add(in.l, rulePythonSource, -1, nil, path.Base(name))
	return nil
}

// templateByName reports whether the file or member is a chat template of its
// own: transformers reads chat_template.jinja (and additional_chat_templates/
// *.jinja) next to the tokenizer config.
func templateByName(l loc) bool {
	name := l.member
	if name == "" {
		name = l.file
	}
	ext := strings.ToLower(path.Ext(name))
	return ext == ".jinja" || ext == ".jinja2" || ext == ".j2"
}

// scanTemplateFile checks a whole file as one chat template.
func (s *scanner) scanTemplateFile(in region) error {
	raw, err := io.ReadAll(io.LimitReader(in.st, maxConfigBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", in.l.where(), err)
	}
	if len(raw) > maxConfigBytes {
		s.c.skip(in.l, "chat template larger than %d bytes; only the start was checked", maxConfigBytes)
		raw = raw[:maxConfigBytes]
	}
	s.checkTemplate(in.l, path.Base(in.l.file+"/"+in.l.member), string(raw), -1)
	return nil
}

// kerasExternalKeys are config fields through which a layer loads code or a
// graph from outside the model file when it is rebuilt: keras.layers.TFSMLayer's
// filepath (a TensorFlow SavedModel whose graph it runs), TF Hub's KerasLayer
// handle (a path or URL), and the like. Keras' own layers have no such fields.
var kerasExternalKeys = []string{"filepath", "file_path", "handle", "saved_model_path", "saved_model_dir",
	"export_dir", "model_path", "module_path", "url", "hub_url"}

// kerasLookupLayers read their vocabulary from a file when it is given as a path.
var kerasLookupLayers = setOf("StringLookup", "IntegerLookup", "TextVectorization")

// scanKerasEmbedded decodes a base64 blob kept in a Keras config (a
// TorchModuleWrapper's torch.save output) and scans it as a file of its own.
func (s *scanner) scanKerasEmbedded(ctx context.Context, l loc, b64 string, keyPath string) {
	if int64(len(b64)) > s.opts.MaxInMemory*4/3+4 {
		s.c.skip(l, "embedded base64 data at %s is larger than the in-memory limit", keyPath)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		s.c.skip(l, "embedded base64 data at %s does not decode: %v", keyPath, err)
		return
	}
	child := l.child("base64@"+strings.TrimPrefix(keyPath, "."), -1)
	in := s.regionAt(bytes.NewReader(raw), 0, int64(len(raw)), child)
	if err := s.scanRegion(ctx, in); err != nil && ctx.Err() == nil {
		s.c.skip(child, "embedded data not scanned: %v", err)
	}
}
