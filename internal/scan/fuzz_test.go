package scan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzPrintable: whatever the input, the output is valid UTF-8 on one line with no
// control or format characters, and printable input passes through unchanged.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "plain", "a\nb", "\x1b[31mred", "\xff\xfe", "rtl\u202e", "zw\u200b", "tab\there"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Printable(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q: %q", s, out)
		}
		for _, r := range out {
			if r != ' ' && (unicode.Is(unicode.Cf, r) || !unicode.IsGraphic(r)) {
				t.Fatalf("Printable(%q) keeps %U", s, r)
			}
		}
		if Printable(out) != out {
			t.Fatalf("not idempotent: %q → %q → %q", s, out, Printable(out))
		}
	})
}

// FuzzReportExports feeds untrusted titles, paths and evidence (as a scanned file
// could supply them) through every export: the table holds no control bytes, SARIF
// and CycloneDX are valid JSON, and the HTML never contains the raw title markup.
func FuzzReportExports(f *testing.F) {
	f.Add("Pickle imports <b>x</b>", "dir/evil\x1b.pkl", "member\x00name", "os.system")
	f.Add("", "", "", "")
	f.Add("\xff\xfe", "/abs/\u202e.pkl", "a!b", "\u2028")
	f.Fuzz(func(t *testing.T, title, file, member, imp string) {
		fd := Finding{ScanType: SelfModification, Severity: High, Score: 8, Title: title, Remediation: "fix " + title,
			Evidence: map[string]any{"file": file, "member": member, "import": imp, "rule": "pickle.dangerous_import"}, Target: file}
		r := NewReport(file, nil, []Finding{fd}, []NotScanned{{Path: file, Reason: title}}).
			WithFiles([]File{{Path: file, Format: "pickle"}})
		var buf bytes.Buffer
		if err := r.WriteTable(&buf, TableOptions{Color: true}); err != nil {
			t.Fatal(err)
		}
		for _, b := range buf.Bytes() {
			if b < 0x20 && b != '\n' && b != 0x1b || b == 0x7f {
				t.Fatalf("table holds control byte %#x: %q", b, buf.String())
			}
		}
		for _, write := range []func(*bytes.Buffer) error{
			func(b *bytes.Buffer) error { return r.WriteSARIF(b) },
			func(b *bytes.Buffer) error { return r.WriteCycloneDX(b) },
			func(b *bytes.Buffer) error { return r.WriteJSON(b) },
		} {
			buf.Reset()
			if err := write(&buf); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(buf.Bytes()) {
				t.Fatalf("invalid JSON: %s", buf.String())
			}
		}
		buf.Reset()
		if err := r.WriteHTML(&buf); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(title, "<") && strings.Contains(buf.String(), Printable(title)) && strings.ContainsAny(Printable(title), "<>") {
			t.Fatalf("HTML holds the raw title %q", title)
		}
	})
}
