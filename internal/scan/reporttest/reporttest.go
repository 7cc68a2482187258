// Package reporttest checks report exports in tests: SARIF against the SARIF 2.1.0
// JSON schema and GitHub code scanning's documented upload rules, CycloneDX against
// the CycloneDX 1.6 JSON schema. The schemas live in testdata/ (see its README for
// their sources and licences). Only tests import this package.
package reporttest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed testdata/*.json
var schemas embed.FS

const (
	sarifSchemaURL = "https://json.schemastore.org/sarif-2.1.0-rtm.5.json"
	cdxBase        = "http://cyclonedx.org/schema/"
	cdxSchemaURL   = cdxBase + "bom-1.6.schema.json"
)

var (
	compileOnce sync.Once
	sarifSchema *jsonschema.Schema
	cdxSchema   *jsonschema.Schema
	compileErr  error
)

func compile() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for name, u := range map[string]string{
		"sarif-2.1.0-rtm.5.json":        sarifSchemaURL,
		"bom-1.6.SNAPSHOT.schema.json":  cdxSchemaURL,
		"spdx.SNAPSHOT.schema.json":     cdxBase + "spdx.SNAPSHOT.schema.json",
		"jsf-0.82.SNAPSHOT.schema.json": cdxBase + "jsf-0.82.SNAPSHOT.schema.json",
	} {
		b, err := schemas.ReadFile("testdata/" + name)
		if err != nil {
			compileErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			compileErr = fmt.Errorf("%s: %w", name, err)
			return
		}
		if err := c.AddResource(u, doc); err != nil {
			compileErr = fmt.Errorf("%s: %w", name, err)
			return
		}
	}
	if sarifSchema, compileErr = c.Compile(sarifSchemaURL); compileErr != nil {
		return
	}
	cdxSchema, compileErr = c.Compile(cdxSchemaURL)
}

func validate(s **jsonschema.Schema, data []byte) error {
	compileOnce.Do(compile)
	if compileErr != nil {
		return fmt.Errorf("compile schemas: %w", compileErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return (*s).Validate(inst)
}

// ValidateCycloneDX checks data against the CycloneDX 1.6 JSON schema.
func ValidateCycloneDX(data []byte) error {
	return validate(&cdxSchema, data)
}

// ValidateSARIF checks data against the SARIF 2.1.0 schema, then against GitHub code
// scanning's documented requirements (docs.github.com, "SARIF support for code
// scanning"): version 2.1.0; at most 20 runs, 25,000 rules and 25,000 results a run,
// 20 tags a rule and 1,000 locations a result; every rule with an id, short and full
// descriptions, help text, an absolute helpUri and properties.security-severity as a
// string number between 0.0 and 10.0; every result naming a rule of its run (ruleIndex
// consistent), with a message, at least one location with an artifact URI and a
// startLine of 1 or more, and partialFingerprints. It also checks this project's
// rule that a result's message does not carry the fix (that lives in the rule's help).
func ValidateSARIF(data []byte) error {
	if err := validate(&sarifSchema, data); err != nil {
		return fmt.Errorf("SARIF 2.1.0 schema: %w", err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string                           `json:"id"`
						ShortDescription *struct{ Text string }           `json:"shortDescription"`
						FullDescription  *struct{ Text string }           `json:"fullDescription"`
						Help             *struct{ Text, Markdown string } `json:"help"`
						HelpURI          string                           `json:"helpUri"`
						Properties       map[string]any                   `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex *int   `json:"ruleIndex"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region *struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Properties          map[string]any    `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		return err
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if log.Version != "2.1.0" {
		bad("version %q, want 2.1.0", log.Version)
	}
	if len(log.Runs) == 0 || len(log.Runs) > 20 {
		bad("%d runs, want 1 to 20", len(log.Runs))
	}
	for ri, run := range log.Runs {
		if run.Tool.Driver.Name == "" {
			bad("run %d: tool.driver.name is empty", ri)
		}
		rules := run.Tool.Driver.Rules
		if len(rules) > 25000 || len(run.Results) > 25000 {
			bad("run %d: %d rules and %d results, at most 25,000 each", ri, len(rules), len(run.Results))
		}
		index := map[string]int{}
		for i, r := range rules {
			if r.ID == "" {
				bad("run %d rule %d: no id", ri, i)
			}
			if _, dup := index[r.ID]; dup {
				bad("run %d: rule id %q twice", ri, r.ID)
			}
			index[r.ID] = i
			if r.ShortDescription == nil || r.ShortDescription.Text == "" || r.FullDescription == nil || r.FullDescription.Text == "" {
				bad("rule %s: short or full description missing", r.ID)
			}
			if r.Help == nil || r.Help.Text == "" {
				bad("rule %s: no help text", r.ID)
			}
			if u, err := url.Parse(r.HelpURI); err != nil || !u.IsAbs() {
				bad("rule %s: helpUri %q is not an absolute URI", r.ID, r.HelpURI)
			}
			sev, ok := r.Properties["security-severity"].(string)
			if !ok {
				bad("rule %s: properties.security-severity is %T, want a string", r.ID, r.Properties["security-severity"])
			} else if v, err := strconv.ParseFloat(sev, 64); err != nil || v < 0 || v > 10 {
				bad("rule %s: security-severity %q is not a number in 0.0–10.0", r.ID, sev)
			}
			tags, _ := r.Properties["tags"].([]any)
			if len(tags) == 0 || len(tags) > 20 {
				bad("rule %s: %d tags, want 1 to 20", r.ID, len(tags))
			}
		}
		for i, res := range run.Results {
			idx, ok := index[res.RuleID]
			if !ok {
				bad("result %d: ruleId %q is not a rule of the run", i, res.RuleID)
			}
			if res.RuleIndex != nil && *res.RuleIndex != idx {
				bad("result %d: ruleIndex %d, but rule %q is at %d", i, *res.RuleIndex, res.RuleID, idx)
			}
			if strings.TrimSpace(res.Message.Text) == "" {
				bad("result %d: empty message", i)
			}
			if rem, _ := res.Properties["remediation"].(string); rem != "" && strings.Contains(res.Message.Text, rem) {
				bad("result %d: message carries the remediation; it belongs in the rule's help", i)
			}
			if len(res.Locations) == 0 || len(res.Locations) > 1000 {
				bad("result %d: %d locations, want 1 to 1,000", i, len(res.Locations))
			}
			for _, l := range res.Locations {
				if l.PhysicalLocation == nil || l.PhysicalLocation.ArtifactLocation.URI == "" {
					bad("result %d: a location has no physicalLocation.artifactLocation.uri", i)
				} else if l.PhysicalLocation.Region == nil || l.PhysicalLocation.Region.StartLine < 1 {
					bad("result %d: a location has no region.startLine", i)
				}
			}
			if len(res.PartialFingerprints) == 0 {
				bad("result %d: no partialFingerprints", i)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("GitHub code scanning rules: %s", strings.Join(errs, "; "))
	}
	return nil
}
