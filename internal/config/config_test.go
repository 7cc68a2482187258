package config

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.RunMode != "local" || !c.PersistenceEnabled || c.Port != 8000 || c.MaxRequestBodyBytes != 65536 ||
		c.RateLimitGenerate != "5/minute,30/hour" || !c.CSPReportOnly || c.DatabaseURL != "sqlite://data/mirror.db" {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if !c.Development() || c.Production() {
		t.Error("default must be development, not production")
	}
}

func TestPersistenceDefaultsByRunMode(t *testing.T) {
	for mode, want := range map[string]bool{"local": true, "prod": true, "test": false} {
		c, err := Load(env(map[string]string{"RUN_MODE": mode, "SECRET_KEY": "k3Jq9vX2mP8rT5wZ1yB4nC7fH0dL6sAe"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.PersistenceEnabled != want {
			t.Errorf("RUN_MODE=%s: persistence %v, want %v", mode, c.PersistenceEnabled, want)
		}
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"RUN_MODE": "staging"}, "RUN_MODE"},
		{map[string]string{"PORT": "eighty"}, "PORT"},
		{map[string]string{"PERSISTENCE_ENABLED": "maybe"}, "PERSISTENCE_ENABLED"},
		{map[string]string{"MAX_REQUEST_BODY_BYTES": "-1"}, "MAX_REQUEST_BODY_BYTES"},
		{map[string]string{"BACKEND_CORS_ORIGINS": "http://x"}, "BACKEND_CORS_ORIGINS"},
		{map[string]string{"CORS_ORIGINS": "not a url"}, "CORS_ORIGINS"},
		{map[string]string{"ENVIRONMENT": "production"}, "SECRET_KEY must be set"},
		{map[string]string{"RUN_MODE": "prod", "SECRET_KEY": "your-secret-key"}, "placeholder"},
		{map[string]string{"RUN_MODE": "prod", "SECRET_KEY": "short-but-random-Zq8"}, "at least 32"},
		{map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL"},
	}
	for _, tt := range tests {
		_, err := Load(env(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want it to mention %q", tt.env, err, tt.want)
		}
	}
}

func TestProductionSecretNeverEchoed(t *testing.T) {
	secret := "supersecret-value-that-is-too-short"[:20]
	_, err := Load(env(map[string]string{"RUN_MODE": "prod", "SECRET_KEY": secret}))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error must reject without echoing the secret: %v", err)
	}
}

func TestCORSOriginsMerged(t *testing.T) {
	c, err := Load(env(map[string]string{"CORS_ORIGINS": "http://localhost:3000, https://a.example", "BACKEND_CORS_ORIGINS": `["https://b.example"]`}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.CORSOrigins, " ") != "http://localhost:3000 https://a.example https://b.example" {
		t.Errorf("origins %v", c.CORSOrigins)
	}
}

func TestDotEnvEnvironmentWins(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("RUN_MODE=test\nPORT=9000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	get, err := Lookup(env(map[string]string{"PORT": "8123"}), path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(get)
	if err != nil {
		t.Fatal(err)
	}
	if c.RunMode != "test" || c.Port != 8123 {
		t.Errorf("RUN_MODE %q (want test from file), PORT %d (want 8123 from env)", c.RunMode, c.Port)
	}
	if _, err := Lookup(env(nil), filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Errorf("a missing .env is not an error: %v", err)
	}
}

func TestEnsureSecretIsKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	c1 := Config{DataDir: dir, RunMode: "local", Environment: "development"}
	if err := EnsureSecret(&c1); err != nil {
		t.Fatal(err)
	}
	c2 := Config{DataDir: dir, RunMode: "local", Environment: "development"}
	if err := EnsureSecret(&c2); err != nil {
		t.Fatal(err)
	}
	if len(c1.SecretKey) < 32 || c1.SecretKey != c2.SecretKey {
		t.Fatalf("generated secret not kept: %q vs %q", c1.SecretKey, c2.SecretKey)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret_key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode: %v %v", fi, err)
	}
}

// TestProductionRefusesWeakSecrets: 32 bytes are not enough when they are not
// random (the penetration test's 32 spaces, "a"*32, "0"*32, a digit run). The
// error names SECRET_KEY and says why, without the key.
func TestProductionRefusesWeakSecrets(t *testing.T) {
	weak := map[string]string{
		"32 spaces":        strings.Repeat(" ", 32),
		"a*32":             strings.Repeat("a", 32),
		"0*32":             strings.Repeat("0", 32),
		"digit run":        "12345678901234567890123456789012",
		"digit run 64":     strings.Repeat("0123456789", 6) + "0123",
		"alphabet":         "abcdefghijklmnopqrstuvwxyzABCDEF",
		"two characters":   strings.Repeat("ab", 20),
		"pattern of seven": strings.Repeat("Zq8!xK2", 6),
		"few symbols":      "aabbccddeeffgghhaabbccddeeffgghhabab",
		"runs":             "aaaabbbbccccddddeeeeffffgggghhhhiiii",
		"low entropy":      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabcdefgh1",
	}
	for name, key := range weak {
		_, err := Load(env(map[string]string{"RUN_MODE": "prod", "SECRET_KEY": key}))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "SECRET_KEY") || strings.Contains(msg, key) {
			t.Errorf("%s: %q, want it to name SECRET_KEY and not echo the key", name, msg)
		}
		if strings.TrimSpace(key) != "" && !strings.Contains(msg, "random") {
			t.Errorf("%s: %q does not say what to do", name, msg)
		}
	}
	// Random keys pass, in every usual encoding, from a seeded generator (so the
	// test is the same every run): 2,000 keys of 32 and 64 characters.
	rng := rand.New(rand.NewChaCha8([32]byte{1, 2, 3}))
	encodings := map[string]string{
		"hex":    "0123456789abcdef",
		"base64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		"alnum":  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	}
	for name, alphabet := range encodings {
		for _, n := range []int{32, 64} {
			for range 1000 {
				b := make([]byte, n)
				for i := range b {
					b[i] = alphabet[rng.IntN(len(alphabet))]
				}
				if err := checkProductionSecret(string(b)); err != nil {
					t.Fatalf("random %s key of %d characters refused: %v", name, n, err)
				}
			}
		}
	}
}
