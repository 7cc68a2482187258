package scan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"mirror/internal/scan/reporttest"
)

func fileReport() Report {
	r := sampleReport()
	r.Findings[4].Title = `<script>alert("x")</script> hidden`
	return r.WithFiles([]File{
		{Path: "models/a.pt", Size: 100, SHA256: strings.Repeat("ab", 32), Format: "zip", Framework: "pytorch"},
		{Path: "b.gguf", Size: 50, SHA256: strings.Repeat("cd", 32), Format: "gguf", Framework: "gguf"},
		{Path: "z.bin", Size: 8, SHA256: strings.Repeat("ef", 32), Format: "unknown"},
		{Path: "tokenizer.json", Size: 9, SHA256: strings.Repeat("01", 32), Format: "json"},
	})
}

func TestWriteHTMLSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := fileReport().WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var rows, scripts int
	var external []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				scripts++
			case "tr":
				rows++
			}
			for _, a := range n.Attr {
				// Only plain links may point elsewhere; nothing the page loads may.
				if (a.Key == "src" || (a.Key == "href" && n.Data != "a")) && a.Val != "" {
					external = append(external, n.Data+" "+a.Key+"="+a.Val)
				}
			}
			if n.Data == "link" || n.Data == "iframe" || n.Data == "object" {
				external = append(external, n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 0 || len(external) != 0 {
		t.Errorf("page loads or runs something: %d scripts, %v", scripts, external)
	}
	// Header rows plus 5 findings, 4 files and 1 not-scanned input.
	if rows != 3+5+4+1 {
		t.Errorf("%d table rows, want 13", rows)
	}
	for _, want := range []string{
		"Content-Security-Policy", "pickle.dangerous_call", "Pickle calls a dangerous function on load",
		"models/a.pt!archive/data.pkl@10", strings.Repeat("ab", 32), "pytorch", "external/cwe/cwe-502",
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; hidden", "mirror 1.2.3", "2026-01-02 03:04:05 UTC",
		"<b>2</b>critical", "1 input(s) were <strong>not scanned</strong>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestWriteCycloneDXValid(t *testing.T) {
	var buf bytes.Buffer
	if err := fileReport().WriteCycloneDX(&buf); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateCycloneDX(buf.Bytes()); err != nil {
		t.Fatalf("CycloneDX 1.6 schema: %v\n%s", err, buf.String())
	}
	var bom struct {
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			Ref        string `json:"bom-ref"`
			Type       string `json:"type"`
			Name       string `json:"name"`
			Hashes     []struct{ Alg, Content string }
			Properties []struct{ Name, Value string }
		} `json:"components"`
		Vulnerabilities []struct {
			ID      string `json:"id"`
			CWEs    []int  `json:"cwes"`
			Ratings []struct {
				Severity string
				Score    float64
			} `json:"ratings"`
			Affects        []struct{ Ref string } `json:"affects"`
			Recommendation string                 `json:"recommendation"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(buf.Bytes(), &bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != "1.6" {
		t.Errorf("specVersion %q", bom.SpecVersion)
	}
	types := map[string]string{}
	refs := map[string]bool{}
	for _, c := range bom.Components {
		types[c.Name] = c.Type
		refs[c.Ref] = true
		if c.Name == "a.pt" {
			if len(c.Hashes) != 1 || c.Hashes[0].Alg != "SHA-256" || c.Hashes[0].Content != strings.Repeat("ab", 32) {
				t.Errorf("a.pt hashes %+v", c.Hashes)
			}
			props := map[string]string{}
			for _, p := range c.Properties {
				props[p.Name] = p.Value
			}
			if props["mirror:format"] != "zip" || props["mirror:framework"] != "pytorch" || props["mirror:scan_status"] != "scanned" {
				t.Errorf("a.pt properties %v", props)
			}
		}
	}
	if types["a.pt"] != "machine-learning-model" || types["b.gguf"] != "machine-learning-model" || types["tokenizer.json"] != "file" {
		t.Errorf("component types %v", types)
	}
	if len(bom.Vulnerabilities) != 5 {
		t.Fatalf("%d vulnerabilities, want 5", len(bom.Vulnerabilities))
	}
	for _, v := range bom.Vulnerabilities {
		if len(v.Affects) != 1 || !refs[v.Affects[0].Ref] {
			t.Errorf("vulnerability %s affects %v, not a component", v.ID, v.Affects)
		}
	}
	v := bom.Vulnerabilities[1]
	if v.ID != "pickle.dangerous_call" || len(v.CWEs) != 1 || v.CWEs[0] != 502 || v.Ratings[0].Severity != "critical" ||
		v.Ratings[0].Score != 9.8 || v.Affects[0].Ref != "file:models/a.pt" || v.Recommendation != "do not load" {
		t.Errorf("vulnerability = %+v", v)
	}
}

func TestWriteCycloneDXEmptyValid(t *testing.T) {
	var buf bytes.Buffer
	if err := (Report{}).WriteCycloneDX(&buf); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateCycloneDX(buf.Bytes()); err != nil {
		t.Fatalf("CycloneDX 1.6 schema: %v\n%s", err, buf.String())
	}
}

func TestValidateCycloneDXRejectsInvalid(t *testing.T) {
	for _, bad := range []string{
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"model","name":"x"}]}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","vulnerabilities":[{"ratings":[{"severity":"severe"}]}]}`,
		`{"bomFormat":"SPDX","specVersion":"1.6"}`,
	} {
		if err := reporttest.ValidateCycloneDX([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestJobReportServesHTML(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	j := Job{ID: "s1", TargetKey: "catalog_model:offline-demo", Types: []Type{Jailbreak}, StartedAt: &start, CompletedAt: &end}
	r := JobReport(j, []Finding{probeFinding()}, Tool{Name: "mirror", Version: "9"})
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"catalog_model:offline-demo", "jailbreak.role_play", "2026-03-01 10:01:00 UTC", "mirror 9"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	buf.Reset()
	if err := r.WriteSARIF(&buf); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateSARIF(buf.Bytes()); err != nil {
		t.Error(err)
	}
}
