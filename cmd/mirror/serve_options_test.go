package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"mirror/internal/config"
	"mirror/internal/httpapi"
)

// TestAPIOptionsTakeTheirVariables: every option of the HTTP API comes from its
// environment variable, and RUN_MODE=prod alone turns the developer pages off.
func TestAPIOptionsTakeTheirVariables(t *testing.T) {
	env := map[string]string{
		"PROJECT_NAME": "Acme Mirror", "VERSION": "9.8.7", "RUN_MODE": "prod", "SECRET_KEY": "k3Jq9vX2mP8rT5wZ1yB4nC7fH0dL6sAe",
		"CSP_REPORT_ONLY": "false", "ALLOWED_HOSTS": "api.example,*.mirror.example", "CORS_ORIGINS": "https://app.example",
		"TRUST_PROXY_HEADERS": "true", "TRUSTED_PROXY_HOPS": "2", "WRITE_API_KEYS": "k-one,k-two",
		"MAX_REQUEST_BODY_BYTES": "1024", "MAX_UPLOAD_BYTES": "4096", "BODY_READ_TIMEOUT_SECONDS": "7",
		"MAX_PROBE_PACK_BYTES": "200000",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := httpapi.Options{ProjectName: "Acme Mirror", Version: "9.8.7", Development: false, Production: true, CSPReportOnly: false,
		AllowedHosts: []string{"api.example", "*.mirror.example"}, CORSOrigins: []string{"https://app.example"},
		TrustProxyHeaders: true, TrustedProxyHops: 2, WriteAPIKeys: []string{"k-one", "k-two"},
		MaxRequestBodyBytes: 1024, MaxUploadBytes: 4096, BodyReadTimeout: 7 * time.Second, MaxProbePackBytes: 200000}
	if d := cmp.Diff(want, apiOptions(cfg)); d != "" {
		t.Errorf("options (-want +got):\n%s", d)
	}

	cfg, err = config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if o := apiOptions(cfg); !o.Development || o.Production {
		t.Errorf("by default: development %v, production %v; want the developer pages and no HSTS", o.Development, o.Production)
	}
}
