package artifact

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// templatePattern is one pattern of a template check and what it means. The
// lists compile on first use: most scans meet no chat template.
type templatePattern struct {
	re   *regexp.Regexp
	what string
}

// templateSSTI are the Jinja constructs that reach Python objects beyond the
// template's data: the sandbox escapes behind llama-cpp-python's CVE-2024-34359 and
// the classic server-side template injection payloads. Real chat templates use
// none of them.
var templateSSTI = sync.OnceValue(func() []templatePattern {
	return []templatePattern{
		{regexp.MustCompile(`__[A-Za-z_]+__`), "a dunder attribute"},
		{regexp.MustCompile(`\|\s*attr\s*\(`), "the attr filter"},
		{regexp.MustCompile(`(?i)\\x5f|\\u005f|\\137|\\U0000005f`), "escaped underscores"},
		{regexp.MustCompile(`['"]_{1,2}['"]\s*[~+*]|[~+]\s*['"]_{1,2}['"]|['"]_['"]\s*\*\s*2`), "underscores built by concatenation"},
		{regexp.MustCompile(`\[\s*['"]_{1,2}['"]\s*,|,\s*['"]_{1,2}['"]\s*[,\]]`), "underscores joined from a list"},
		{regexp.MustCompile(`['"][^'"\n]*%c[^'"\n]*['"]\s*\|\s*format\b|\bformat\s*\(\s*['"][^'"\n]*%c`), "characters built from numbers (%c format)"},
		{regexp.MustCompile(`\b(lipsum|cycler|joiner|namespace|range|dict|self|loop)\s*\.\s*_`), "private attributes of template globals"},
		{regexp.MustCompile(`\b(lipsum|cycler|joiner)\s*\.\s*\w`), "attributes of template globals"},
		{regexp.MustCompile(`\bself\s*\._TemplateReference`), "the template context"},
		{regexp.MustCompile(`(?i)\b(popen|subprocess|os\.system|import_module|__import__|getattr|eval\s*\(|exec\s*\()`), "process or code execution names"},
		{regexp.MustCompile(`\.\s*mro\s*\(|\bmro\s*\(\s*\)`), "the class hierarchy"},
		{regexp.MustCompile(`\b(request|config|url_for|get_flashed_messages)\s*\.\s*(application|__|items|from_)`), "web-framework globals"},
	}
})

// adjacentLiterals is the end of one string literal and the start of the next
// with only white space between, which Jinja's lexer joins into one string.
var adjacentLiterals = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`['"][ \t\r\n]*['"]`) })

// templateInjection are instructions a template adds to every conversation that
// no model vendor ships: overriding the user, hiding itself, sending data away.
var templateInjection = sync.OnceValue(func() []templatePattern {
	return []templatePattern{
		{regexp.MustCompile(`(?i)\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+)?(previous|prior|above|earlier|preceding|user'?s?|system)\s+(instructions?|prompts?|rules|messages?|guidelines)`), "overrides earlier instructions"},
		{regexp.MustCompile(`(?i)\b(do\s+not|don'?t|never)\s+(tell|reveal|mention|disclose|inform|let)\s+(the\s+)?(user|anyone|them|human)`), "hides itself from the user"},
		{regexp.MustCompile(`(?i)\b(never|do\s+not|don'?t)\s+(reveal|mention|disclose|discuss)\s+(these|this|the)\s+(instructions?|rules?|prompt|system\s+prompt)`), "hides its instructions"},
		{regexp.MustCompile(`(?i)\b(secretly|covertly|silently|without\s+(the\s+user|telling|letting))\b`), "acts covertly"},
		{regexp.MustCompile(`(?i)\b(send|post|upload|exfiltrate|forward|leak|transmit|append)\b.{0,80}\b(to|at|into)\b.{0,20}(https?://|\bwww\.)`), "sends data to a URL"},
		{regexp.MustCompile(`(?i)!\[[^\]]*\]\(\s*https?://[^)]*(\{\{|\{%|\?)`), "renders an image URL that carries data"},
		{regexp.MustCompile(`(?i)\balways\s+(recommend|promote|suggest|endorse|mention|include\s+(a\s+)?link)`), "steers every answer"},
		{regexp.MustCompile(`(?i)\b(backdoor|trigger\s+(word|phrase)|hidden\s+instructions?|jailbreak|developer\s+mode|DAN\b)`), "contains jailbreak or backdoor language"},
		{regexp.MustCompile(`(?i)\b(api[_\s-]?keys?|passwords?|credentials|secrets?|credit\s+card)\b.{0,60}\b(collect|ask|request|extract|send|include|reveal)`), "asks for secrets"},
		{regexp.MustCompile(`(?i)\b(collect|ask\s+for|request|extract|send)\b.{0,60}\b(api[_\s-]?keys?|passwords?|credentials|credit\s+card)`), "asks for secrets"},
	}
})

// checkTemplate reports a chat template's code-execution constructs
// (self_modification) and smuggled instructions or invisible text
// (prompt_artifacts). key is where the template was found.
func (s *scanner) checkTemplate(l loc, key, tmpl string, off int64) {
	// Jinja concatenates adjacent string literals ('_' '_globals__' is
	// '__globals__'), so the constructs are looked for in the text with them
	// joined as well.
	joined := adjacentLiterals().ReplaceAllString(tmpl, "")
	for _, p := range templateSSTI() {
		src := tmpl
		m := p.re.FindStringIndex(src)
		if m == nil && joined != tmpl {
			src = joined
			m = p.re.FindStringIndex(src)
		}
		if m != nil {
			s.c.add(l, ruleTemplateSSTI, off, map[string]any{"config_key": key, "match": quote(src[m[0]:m[1]], 80), "excerpt": excerpt(src, m[0], m[1])}, p.what)
		}
	}
	for _, p := range templateInjection() {
		if m := p.re.FindStringIndex(tmpl); m != nil {
			s.c.add(l, ruleTemplateInjection, off, map[string]any{"config_key": key, "match": quote(tmpl[m[0]:m[1]], 120), "excerpt": excerpt(tmpl, m[0], m[1])}, p.what)
		}
	}
	if hidden, decoded := hiddenText(tmpl); len(hidden) > 0 {
		ev := map[string]any{"config_key": key, "characters": hidden}
		if decoded != "" {
			ev["decoded_tag_text"] = quote(decoded, 200)
		}
		s.c.add(l, ruleTemplateHidden, off, ev, strings.Join(hidden, ", "))
	}
}

// hiddenText lists invisible and bidirectional control characters, and decodes
// Unicode tag characters (U+E0000 block), which smuggle ASCII invisibly.
func hiddenText(s string) ([]string, string) {
	seen := map[string]bool{}
	var names []string
	var tags strings.Builder
	for i, r := range s {
		var name string
		switch {
		case r >= 0xE0000 && r <= 0xE007F:
			name = "Unicode tag characters"
			if r >= 0xE0020 && r < 0xE007F {
				tags.WriteRune(r - 0xE0000)
			}
		case r >= 0x200B && r <= 0x200F, r >= 0x2060 && r <= 0x2064, r == 0x180E:
			name = fmt.Sprintf("U+%04X (zero-width)", r)
		case r == 0xFEFF && i > 0:
			name = "U+FEFF (zero-width no-break space)"
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			name = fmt.Sprintf("U+%04X (bidirectional control)", r)
		case r >= 0xFFF9 && r <= 0xFFFB:
			name = fmt.Sprintf("U+%04X (interlinear annotation)", r)
		case unicode.Is(unicode.Co, r):
			name = "private-use characters"
		}
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names, tags.String()
}

// excerpt returns the match with some context, on one line.
func excerpt(s string, from, to int) string {
	a := max(0, from-60)
	b := min(len(s), to+60)
	for a > 0 && !isRuneStart(s[a]) {
		a--
	}
	for b < len(s) && !isRuneStart(s[b]) {
		b++
	}
	return quote(strings.Join(strings.Fields(s[a:b]), " "), 300)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
