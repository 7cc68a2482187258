package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
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
						Region struct {
							ByteOffset int64 `json:"byteOffset"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("SARIF: %v", err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || doc.Runs[0].Tool.Driver.Name != "mirror" || len(doc.Runs[0].Results) == 0 {
		t.Fatalf("SARIF = %s", data)
	}
	res := doc.Runs[0].Results[0]
	if res.RuleID != "self_modification" || res.Level != "error" || len(res.Locations) != 1 ||
		!strings.HasSuffix(res.Locations[0].PhysicalLocation.ArtifactLocation.URI, "evil.pkl") {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(stderr, "1 critical") {
		t.Errorf("stderr summary = %q", stderr)
	}
}

func TestScanCommandTable(t *testing.T) {
	_, evil, unknown, _ := scanFixtures(t)
	code, out, _ := runScan(t, evil, unknown)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"CRITICAL", "os.system", "Not scanned (1)", "blob.bin"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
