package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestFilesLikeMirrorScan: mirror-scan is `mirror scan` for files: the same exit
// codes and reports, and no live-model flags.
func TestFilesLikeMirrorScan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	benign := write("ok.pkl", "\x80\x04K\x01.")
	evil := write("evil.pkl", "cos\nsystem\n(S'id'\ntR.")
	unknown := write("blob.bin", "\xde\xad\xbe\xef\x01\x02\x03\x04")
	write("version", "cos\nsystem\n(S'id'\ntR.")
	tests := []struct {
		name   string
		args   []string
		want   int
		stdout string // a substring of standard output
		stderr string // a substring of standard error
	}{
		{"benign", []string{benign}, 0, "No findings.", ""},
		{"malicious", []string{evil}, 1, "pickle.dangerous_call", ""},
		{"not scanned", []string{unknown}, 2, "", ""},
		{"json report", []string{"--format", "json", evil}, 1, `"rule_id": "pickle.dangerous_call"`, "mirror-scan: 1 critical"},
		{"fail-on critical", []string{"--fail-on", "critical", benign}, 0, "", ""},
		{"no path", nil, 2, "", "mirror-scan: no PATH given (see mirror-scan --help)"},
		{"live models are mirror scan's", []string{"--endpoint", "http://127.0.0.1:1", "--model", "m"}, 2, "", "unknown flag: --endpoint"},
		{"help", []string{"--help"}, 0, "usage: mirror-scan [flags] PATH...", ""},
		{"version", []string{"--version"}, 0, "mirror-scan " + version, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(tt.args...)
			if code != tt.want || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.want, out, errOut)
			}
		})
	}
	t.Run("a file named version is scanned", func(t *testing.T) {
		t.Chdir(dir)
		if code, out, errOut := runCmd("version"); code != 1 || !strings.Contains(out, "pickle.dangerous_call") {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
	})
	code, out, _ := runCmd("--format", "json", evil)
	var report struct {
		Tool struct{ Name string } `json:"tool"`
	}
	if err := json.Unmarshal([]byte(out), &report); code != 1 || err != nil || report.Tool.Name != "mirror" {
		t.Errorf("json report: exit %d, %v, tool %+v", code, err, report.Tool)
	}
}

// TestLinksNoProviders: the point of this binary is its start-up, so it must not
// link the provider SDKs, gRPC, the probes, the server or the drivers, whose
// package initialisation is most of a `mirror` process.
func TestLinksNoProviders(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 || !strings.Contains(string(out), "mirror/internal/scan/artifact") {
		t.Fatalf("go list -deps gave %d packages, without the scanner", len(deps))
	}
	for _, p := range deps {
		for _, bad := range []string{"mirror/internal/llm", "mirror/internal/scan/probe", "mirror/internal/httpapi", "mirror/internal/sqlstore",
			"anthropic-sdk-go", "openai-go", "google.golang.org/genai", "google.golang.org/grpc", "prometheus", "jackc/pgx", "redis", "modernc.org/sqlite"} {
			if strings.Contains(p, bad) {
				t.Errorf("mirror-scan links %s", p)
			}
		}
	}
}
