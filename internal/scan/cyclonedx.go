package scan

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"
)

// modelFormats are the detected formats that hold a model (a CycloneDX
// machine-learning-model component); other files (configs, tokenizers, text) are
// "file" components.
var modelFormats = map[string]bool{
	"pickle": true, "pickle (protocol 0/1)": true, "zip": true, "safetensors": true, "gguf": true,
	"onnx": true, "hdf5": true, "npy": true, "tar": true,
}

// WriteCycloneDX writes the report as a CycloneDX 1.6 JSON ML-BOM: each scanned or
// skipped model file is a component (type machine-learning-model, or file for
// configs and text) with its SHA-256, size, detected format and framework as
// properties; a live target is one machine-learning-model component; each finding is
// a vulnerability (id = rule id, rating with the score and severity, CWE,
// description, recommendation, and the affected component). The serial number is
// derived from the report's content and times, so the same report gives the same BOM.
func (r Report) WriteCycloneDX(w io.Writer) error {
	r = r.normalized()
	bom := cdx.NewBOM()
	ts := r.FinishedAt
	if ts.IsZero() {
		ts = time.Now().UTC()
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: ts.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: r.Tool.Name, Version: r.Tool.Version,
			ExternalReferences: externalRefs(r.Tool.InformationURI),
		}}},
		Properties: &[]cdx.Property{
			{Name: "mirror:target", Value: Printable(r.Target)},
			{Name: "mirror:report_schema_version", Value: r.SchemaVersion},
			{Name: "mirror:not_scanned", Value: strconv.Itoa(len(r.NotScanned))},
		},
	}
	var components []cdx.Component
	refOf := map[string]string{} // file path or target → bom-ref
	for _, f := range r.Files {
		ref := "file:" + f.Path
		refOf[f.Path] = ref
		typ := cdx.ComponentTypeFile
		if modelFormats[f.Format] {
			typ = cdx.ComponentTypeMachineLearningModel
		}
		props := []cdx.Property{
			{Name: "mirror:path", Value: Printable(f.Path)},
			{Name: "mirror:format", Value: f.Format},
			{Name: "mirror:size", Value: strconv.FormatInt(f.Size, 10)},
			{Name: "mirror:scan_status", Value: f.Status},
		}
		if f.Framework != "" {
			props = append(props, cdx.Property{Name: "mirror:framework", Value: f.Framework})
		}
		if f.Reason != "" {
			props = append(props, cdx.Property{Name: "mirror:skip_reason", Value: Printable(f.Reason)})
		}
		c := cdx.Component{BOMRef: ref, Type: typ, Name: Printable(filepath.Base(f.Path)), Properties: &props}
		if f.SHA256 != "" {
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}}
		}
		components = append(components, c)
	}
	targetRef := func(f Finding) string {
		file, _ := f.Evidence["file"].(string)
		if ref, ok := refOf[file]; ok {
			return ref
		}
		key := file
		if key == "" {
			key = f.Target
		}
		if key == "" {
			key = r.Target
		}
		if ref, ok := refOf[key]; ok {
			return ref
		}
		ref := "target:" + key
		refOf[key] = ref
		name := Printable(key)
		if m, _ := f.Evidence["model"].(string); m != "" && file == "" {
			name = Printable(m)
		}
		components = append(components, cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeMachineLearningModel, Name: name,
			Properties: &[]cdx.Property{{Name: "mirror:target", Value: Printable(key)}}})
		return ref
	}
	var vulns []cdx.Vulnerability
	source := &cdx.Source{Name: r.Tool.Name, URL: r.Tool.InformationURI}
	for i, f := range r.Findings {
		rule := RuleFor(f)
		score := f.Score
		v := cdx.Vulnerability{
			BOMRef:         fmt.Sprintf("finding-%d-%s", i+1, Fingerprint(f)[:12]),
			ID:             rule.ID,
			Source:         source,
			Ratings:        &[]cdx.VulnerabilityRating{{Source: source, Score: &score, Severity: cdx.Severity(f.Severity), Method: cdx.ScoringMethodOther}},
			Description:    Printable(f.Title),
			Detail:         rule.Description,
			Recommendation: cmpOr(Printable(f.Remediation), rule.Help),
			Affects:        &[]cdx.Affects{{Ref: targetRef(f)}},
			Properties: &[]cdx.Property{
				{Name: "mirror:scan_type", Value: string(f.ScanType)},
				{Name: "mirror:fingerprint", Value: Fingerprint(f)},
				{Name: "mirror:location", Value: tableLocation(f)},
			},
		}
		if rule.CWE > 0 {
			v.CWEs = &[]int{rule.CWE}
		}
		var refs []cdx.VulnerabilityReference
		if rule.ATLAS != "" {
			refs = append(refs, cdx.VulnerabilityReference{ID: rule.ATLAS, Source: &cdx.Source{Name: "MITRE ATLAS", URL: "https://atlas.mitre.org/techniques/" + rule.ATLAS}})
		}
		if rule.OWASPLLM != "" {
			refs = append(refs, cdx.VulnerabilityReference{ID: rule.OWASPLLM, Source: &cdx.Source{Name: "OWASP Top 10 for LLM Applications 2025", URL: "https://genai.owasp.org/llm-top-10/"}})
		}
		if len(refs) > 0 {
			v.References = &refs
		}
		vulns = append(vulns, v)
	}
	if len(components) > 0 {
		bom.Components = &components
	}
	if len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	seed := r.Target + "\x00" + ts.Format(time.RFC3339Nano) + "\x00" + strconv.Itoa(len(r.Findings))
	bom.SerialNumber = uuid.NewSHA1(uuid.NameSpaceURL, []byte(seed)).URN()
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("write cyclonedx report: %w", err)
	}
	return nil
}

func externalRefs(uri string) *[]cdx.ExternalReference {
	if uri == "" {
		return nil
	}
	return &[]cdx.ExternalReference{{Type: cdx.ERTypeWebsite, URL: uri}}
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}
