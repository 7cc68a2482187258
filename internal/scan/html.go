package scan

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sync"
)

//go:embed templates/report.html.tmpl
var templateFS embed.FS

// htmlReport parses the template on first use, not at start-up: parsing is most
// of this package's initialisation, which every `mirror-scan` run would pay.
var htmlReport = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report.html.tmpl").
		Funcs(template.FuncMap{"p": Printable}).
		ParseFS(templateFS, "templates/report.html.tmpl"))
})

// htmlView is what the HTML template renders: the report plus, per finding, its
// rule, location and evidence ready to show.
type htmlView struct {
	Report
	Rows []htmlRow
}

type htmlRow struct {
	Index    int
	Finding  Finding
	Rule     Rule
	Tags     []string
	Location string
	Evidence string
}

// WriteHTML writes the report as one self-contained HTML page: inline styles, no
// script, no external resource (its Content-Security-Policy forbids them), readable
// offline. Every value is escaped by html/template, and untrusted strings are made
// Printable first. The API can serve the same page for a stored scan: build the
// Report with NewReport from the scan's findings and call WriteHTML.
func (r Report) WriteHTML(w io.Writer) error {
	r = r.normalized()
	v := htmlView{Report: r, Rows: make([]htmlRow, 0, len(r.Findings))}
	for i, f := range r.Findings {
		ev, err := json.MarshalIndent(nonNilMap(f.Evidence), "", "  ")
		if err != nil {
			return fmt.Errorf("write html report: evidence of finding %d: %w", i, err)
		}
		rule := RuleFor(f)
		v.Rows = append(v.Rows, htmlRow{Index: i + 1, Finding: f, Rule: rule, Tags: rule.Tags(f.ScanType)[1:],
			Location: tableLocation(f), Evidence: string(ev)})
	}
	if err := htmlReport().Execute(w, v); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}
