package artifact

import "strings"

// skops (scikit-learn's pickle-free format) is a zip whose schema.json is a tree
// of nodes, each naming the type it rebuilds ("__module__", "__class__") and the
// loader that rebuilds it ("__loader__": ObjectNode, FunctionNode, TypeNode,
// MethodNode, OperatorFuncNode, ReduceNode …). skops.io.load refuses types it
// does not trust unless the caller passes them in trusted= — which callers copy
// from get_untrusted_types — so the types are judged with the pickle policy
// (imports.go): a dangerous one (posix.system as a FunctionTransformer's func,
// CVE-2025-54412's operator functions, a method reached through a dunder,
// CVE-2025-54413) is high; one on no list (a __main__ class) is medium;
// scikit-learn, NumPy and SciPy types and Python containers pass.

// isSkopsSchema reports whether a parsed JSON root is a skops schema.
func isSkopsSchema(obj map[string]any) bool {
	_, loader := obj["__loader__"].(string)
	_, version := obj["_skops_version"]
	_, protocol := obj["protocol"]
	return loader && (version || protocol)
}

// skopsContainers are the types skops rebuilds itself from their parts (the
// partial's function is a node of its own, judged there).
var skopsContainers = setOf("functools.partial")

// checkSkops walks a skops schema and reports the types it would rebuild.
func (s *scanner) checkSkops(l loc, root map[string]any) {
	seen := map[string]bool{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 200 {
			return
		}
		switch t := v.(type) {
		case []any:
			for _, x := range t {
				walk(x, depth+1)
			}
		case map[string]any:
			if loader, ok := t["__loader__"].(string); ok {
				s.skopsNode(l, t, loader, seen)
			}
			for _, x := range t {
				walk(x, depth+1)
			}
		}
	}
	walk(root, 0)
}

func (s *scanner) skopsNode(l loc, node map[string]any, loader string, seen map[string]bool) {
	module, _ := node["__module__"].(string)
	class, _ := node["__class__"].(string)
	if module == "" || class == "" {
		return
	}
	name := class
	if loader == "MethodNode" {
		// content: {"func": method name, "obj": node of the object}
		if c, ok := node["content"].(map[string]any); ok {
			if fn, ok := c["func"].(string); ok && fn != "" {
				if obj, ok := c["obj"].(map[string]any); ok {
					om, _ := obj["__module__"].(string)
					oc, _ := obj["__class__"].(string)
					if om != "" && oc != "" {
						module, name = om, oc+"."+fn
					}
				}
			}
		}
	}
	key := loader + " " + module + "." + name
	if seen[key] {
		return
	}
	seen[key] = true
	full := module + "." + name
	if skopsContainers[full] {
		return
	}
	v := classify(module, name)
	ev := map[string]any{"format": "skops", "loader": loader, "import": v.name, "module": module, "name": name}
	switch v.verdict {
	case verdictDangerous:
		ev["category"] = v.category
		s.c.add(l, ruleSkopsDangerous, -1, ev, v.name, v.category, loader)
	case verdictUnknown:
		if strings.HasPrefix(name, "__") || strings.Contains(name, ".__") {
			s.c.add(l, ruleSkopsDangerous, -1, ev, v.name, "indirection", loader)
			return
		}
		s.c.add(l, ruleSkopsUnknown, -1, ev, v.name, loader)
	}
}
