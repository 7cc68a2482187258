package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mirror/internal/scan"
	"mirror/internal/scan/reporttest"
)

// scanFixtures writes a benign safetensors file, a malicious pickle, a file of
// unknown format and a medium-only file (a corrupt pickle) into a temp folder.
func scanFixtures(t *testing.T) (benign, evil, unknown, medium string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hdr := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	st := append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...)
	benign = write("ok.safetensors", append(st, make([]byte, 8)...))
	evil = write("evil.pkl", []byte("cos\nsystem\n(S'id'\ntR."))
	unknown = write("blob.bin", []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4})
	medium = write("cut.pkl", []byte("\x80\x02}q\x00(X\x01\x00\x00\x00aK\x01X"))
	return
}

func runScan(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"scan"}, args...), func(string) string { return "" }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestScanCommandExitCodes(t *testing.T) {
	benign, evil, unknown, medium := scanFixtures(t)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"benign", []string{benign}, 0},
		{"malicious", []string{evil}, 1},
		{"malicious among others, flags after paths", []string{benign, evil, "--format", "json"}, 1},
		{"unknown format is not clean", []string{unknown}, 2},
		{"missing path", []string{filepath.Join(filepath.Dir(benign), "nope.pt")}, 2},
		{"medium below default fail-on", []string{medium}, 0},
		{"medium at fail-on medium", []string{"--fail-on", "medium", medium}, 1},
		{"folder", []string{filepath.Dir(benign)}, 1},
		{"no path", nil, 2},
		{"bad format", []string{"--format", "xml", benign}, 2},
		{"bad severity", []string{"--fail-on", "severe", benign}, 2},
		{"unknown flag", []string{"--frobnicate", benign}, 2},
		{"endpoint bad provider", []string{"--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "--provider", "cohere"}, 2},
		{"endpoint without model", []string{"--endpoint", "http://127.0.0.1:9/v1"}, 2},
		{"endpoint and paths", []string{"--endpoint", "http://127.0.0.1:9/v1", "--model", "m", benign}, 2},
		{"endpoint bad type", []string{"--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "--types", "bogus"}, 2},
		{"endpoint flags without endpoint", []string{"--seed", "3", benign}, 2},
		{"help", []string{"-h"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runScan(t, tt.args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
		})
	}
}

func TestScanCommandJSON(t *testing.T) {
	benign, evil, unknown, _ := scanFixtures(t)
	code, out, stderr := runScan(t, "--format", "json", benign, evil, unknown)
	if code != 1 {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	var r struct {
		Target    string   `json:"target"`
		ScanTypes []string `json:"scan_types"`
		Findings  []struct {
			ScanType    string         `json:"scan_type"`
			Severity    string         `json:"severity"`
			Score       float64        `json:"score"`
			Title       string         `json:"title"`
			Evidence    map[string]any `json:"evidence"`
			Remediation string         `json:"remediation"`
		} `json:"findings"`
		NotScanned []struct{ Path, Reason string } `json:"not_scanned"`
		Summary    map[string]int                  `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	if len(r.Findings) == 0 || r.Findings[0].Severity != "critical" || r.Findings[0].Evidence["import"] != "os.system" ||
		r.Findings[0].ScanType != "self_modification" || r.Findings[0].Remediation == "" {
		t.Errorf("first finding = %+v", r.Findings)
	}
	if r.Summary["critical"] < 1 || len(r.NotScanned) != 1 || r.NotScanned[0].Path != unknown {
		t.Errorf("summary %v not_scanned %v", r.Summary, r.NotScanned)
	}
	if len(r.ScanTypes) != 2 || !strings.Contains(r.Target, benign) {
		t.Errorf("target %q types %v", r.Target, r.ScanTypes)
	}
}

func TestScanCommandSARIFToFile(t *testing.T) {
	_, evil, _, _ := scanFixtures(t)
	outFile := filepath.Join(t.TempDir(), "report.sarif")
	code, stdout, stderr := runScan(t, evil, "--format", "sarif", "--output", outFile)
	if code != 1 {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout should be empty with --output, got %q", stdout)
	}
	data, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateSARIF(data); err != nil {
		t.Fatalf("SARIF the CLI wrote is invalid: %v\n%s", err, data)
	}
	var doc struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Name, Version string
					Rules         []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("SARIF: %v", err)
	}
	if len(doc.Runs) != 1 || doc.Runs[0].Tool.Driver.Name != "mirror" || doc.Runs[0].Tool.Driver.Version != version || len(doc.Runs[0].Results) == 0 {
		t.Fatalf("SARIF = %s", data)
	}
	res := doc.Runs[0].Results[0]
	if res.RuleID != "pickle.dangerous_call" || res.Level != "error" || len(res.Locations) != 1 ||
		!strings.HasSuffix(res.Locations[0].PhysicalLocation.ArtifactLocation.URI, "evil.pkl") {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(stderr, "1 critical") || !strings.Contains(stderr, "report written to "+outFile) {
		t.Errorf("stderr summary = %q", stderr)
	}
}

// TestScanCommandEveryFormatValid runs the CLI on a folder with benign, malicious,
// unknown and damaged files and checks each machine format against its schema.
func TestScanCommandEveryFormatValid(t *testing.T) {
	benign, _, _, _ := scanFixtures(t)
	dir := filepath.Dir(benign)
	for _, format := range []string{"sarif", "cyclonedx", "json", "html"} {
		t.Run(format, func(t *testing.T) {
			code, out, stderr := runScan(t, "--format", format, dir)
			if code != 1 {
				t.Fatalf("exit %d; stderr %s", code, stderr)
			}
			var err error
			switch format {
			case "sarif":
				err = reporttest.ValidateSARIF([]byte(out))
			case "cyclonedx":
				err = reporttest.ValidateCycloneDX([]byte(out))
			case "json":
				err = json.Unmarshal([]byte(out), new(map[string]any))
			case "html":
				if !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, "pickle.dangerous_call") || strings.Contains(out, "<script") {
					err = errors.New("not the expected self-contained page")
				}
			}
			if err != nil {
				t.Fatalf("%s output invalid: %v\n%s", format, err, out)
			}
		})
	}
}

func TestScanCommandJSONInventory(t *testing.T) {
	benign, evil, unknown, _ := scanFixtures(t)
	code, out, stderr := runScan(t, "--format", "json", filepath.Dir(benign))
	if code != 1 {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	var r struct {
		SchemaVersion string `json:"schema_version"`
		Tool          struct{ Name, Version string }
		StartedAt     time.Time `json:"started_at"`
		FinishedAt    time.Time `json:"finished_at"`
		Files         []struct {
			Path, SHA256, Format, Status string
			Size                         int64
		} `json:"files"`
		Scanned  []string                        `json:"scanned"`
		Skipped  []struct{ Path, Reason string } `json:"skipped"`
		Findings []struct {
			RuleID string `json:"rule_id"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.SchemaVersion != scan.ReportSchemaVersion || r.Tool.Name != "mirror" || r.Tool.Version != version {
		t.Errorf("schema %q tool %+v", r.SchemaVersion, r.Tool)
	}
	if r.StartedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
		t.Errorf("times %v – %v", r.StartedAt, r.FinishedAt)
	}
	if len(r.Files) != 4 || len(r.Scanned) != 3 || len(r.Skipped) != 1 || r.Skipped[0].Path != unknown {
		t.Fatalf("files %+v scanned %v skipped %v", r.Files, r.Scanned, r.Skipped)
	}
	sum := sha256.Sum256([]byte("cos\nsystem\n(S'id'\ntR."))
	for _, f := range r.Files {
		switch f.Path {
		case evil:
			if f.SHA256 != hex.EncodeToString(sum[:]) || f.Format != "pickle (protocol 0/1)" || f.Status != "scanned" || f.Size != 21 {
				t.Errorf("evil.pkl = %+v", f)
			}
		case benign:
			if f.Format != "safetensors" || f.Status != "scanned" {
				t.Errorf("benign = %+v", f)
			}
		case unknown:
			if f.Status != "skipped" || f.Format != "unknown" {
				t.Errorf("unknown = %+v", f)
			}
		}
	}
	if len(r.Findings) == 0 || r.Findings[0].RuleID != "pickle.dangerous_call" {
		t.Errorf("findings %+v", r.Findings)
	}
}

func TestScanCommandTable(t *testing.T) {
	_, evil, unknown, _ := scanFixtures(t)
	code, out, stderr := runScan(t, evil, unknown)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"CRITICAL", "pickle.dangerous_call", "os.system", "Scanned (1):", "Skipped (1)", "blob.bin", "1 files scanned, 1 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// A pipe gets neither colour nor progress.
	if strings.Contains(out+stderr, "\x1b[") || strings.Contains(stderr, "\r") {
		t.Errorf("escape codes on a pipe:\nstdout %q\nstderr %q", out, stderr)
	}
}

func TestEveryCommandAnswersHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"help", "scan"}, {"help", "serve"},
		{"serve", "-h"}, {"serve", "--help"}, {"migrate", "-h"}, {"migrate", "--help"},
		{"scan", "-h"}, {"scan", "--help"}, {"scan", "--format", "json", "--help"}, {"version", "--help"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
		if code != 0 || !strings.HasPrefix(out.String(), "usage: mirror") || errOut.Len() != 0 {
			t.Errorf("mirror %v: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
	}
}

func TestScanCommandRejectsSingleDashLongFlags(t *testing.T) {
	benign, _, _, _ := scanFixtures(t)
	if code, _, stderr := runScan(t, "-format", "json", benign); code != 2 || !strings.Contains(stderr, "--format") {
		t.Errorf("-format: exit %d, stderr %q", code, stderr)
	}
	if code, out, _ := runScan(t, "--format=json", benign); code != 0 || !strings.HasPrefix(out, "{") {
		t.Errorf("--format=json: exit %d", code)
	}
}
