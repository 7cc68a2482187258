// Package config reads Mirror's configuration once, at start-up, from the process
// environment and the repo-root .env file (the process environment wins). Every
// variable keeps the name and default of the spec it comes from; an invalid value
// stops start-up with an error that names the variable.
package config

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Config is the whole configuration. Constructors get only the fields they need.
type Config struct {
	RunMode     string // RUN_MODE: local (default), prod, test
	Environment string // ENVIRONMENT: development (default), production
	ProjectName string // PROJECT_NAME
	Version     string // VERSION

	Port    int    // PORT, default 8000; serve binds 0.0.0.0:PORT
	DataDir string // MIRROR_DATA_DIR, default ./data

	PersistenceEnabled bool   // PERSISTENCE_ENABLED; default on for local/prod, off for test
	DatabaseURL        string // DATABASE_URL; default: SQLite file in DataDir
	DatabaseDirectURL  string // DATABASE_DIRECT_URL; default DatabaseURL (LISTEN/NOTIFY, migrations)
	MigrateOnStart     bool   // MIGRATE_ON_START, default true
	RedisURL           string // REDIS_URL; empty: in-memory limits and in-process events

	ModelsConfig string // MODELS_CONFIG, default config/models.yaml

	CORSOrigins  []string // CORS_ORIGINS (comma-separated) plus BACKEND_CORS_ORIGINS (JSON list)
	AllowedHosts []string // ALLOWED_HOSTS, default "*"

	TrustProxyHeaders   bool  // TRUST_PROXY_HEADERS, default false
	TrustedProxyHops    int   // TRUSTED_PROXY_HOPS, default 1
	MaxRequestBodyBytes int64 // MAX_REQUEST_BODY_BYTES, default 65536
	MaxUploadBytes      int64 // MAX_UPLOAD_BYTES, default 2 GiB
	// MaxProbePackBytes caps an uploaded probe pack (MAX_PROBE_PACK_BYTES, default
	// and ceiling 1 MiB, the probe package's bound); the upload's JSON body may be
	// twice that and 64 KiB more, whatever MAX_REQUEST_BODY_BYTES says.
	MaxProbePackBytes  int64
	ArtifactQuotaBytes int64 // ARTIFACT_QUOTA_BYTES, per user, default 2 GiB; 0: no quota

	// BodyReadTimeout bounds reading a request body (BODY_READ_TIMEOUT_SECONDS,
	// default 30): a body must arrive within it, an upload must send at least
	// 64 KiB in each such span.
	BodyReadTimeout   time.Duration
	MaxConnsPerClient int  // MAX_CONNECTIONS_PER_CLIENT, default 64 open connections per client IP; 0: no cap
	MaxConns          int  // MAX_CONNECTIONS, default 2048 open connections in all; 0: no cap
	CSPReportOnly     bool // CSP_REPORT_ONLY, default true

	RateLimitGenerate      string // RATE_LIMIT_GENERATE, default 5/minute,30/hour
	RateLimitFeedbackThumb string // RATE_LIMIT_FEEDBACK_THUMB, default 30/minute,300/hour
	RateLimitFeedbackEdit  string // RATE_LIMIT_FEEDBACK_EDIT, default 15/minute,120/hour
	RateLimitPerMinute     int    // RATE_LIMIT_PER_MINUTE (/api/v1/*), default 60
	RateLimitLogin         string // RATE_LIMIT_LOGIN, default 10/minute,50/hour: every login attempt, per client
	RateLimitLoginAccount  string // RATE_LIMIT_LOGIN_ACCOUNT, default 30/minute,200/hour,1000/day: failed logins per account

	WriteAPIKeys []string // WRITE_API_KEYS, comma-separated; empty: no key needed

	SecretKey             string        // SECRET_KEY; production: required, 32+ bytes
	AccessTokenLifetime   time.Duration // ACCESS_TOKEN_EXPIRE_MINUTES, default 60
	AdminEmails           []string      // ADMIN_EMAILS, comma-separated
	ScanTargetAllowlist   []string      // SCAN_TARGET_ALLOWLIST: hosts or CIDRs allowed past the SSRF guard
	ScanWorkers           int           // SCAN_WORKERS, default 2; 0: this instance runs no scans (API only)
	ScanLease             time.Duration // SCAN_LEASE_SECONDS, default 30: a dead worker's scan is taken over after this
	ScanMaxRunningPerUser int           // SCAN_MAX_RUNNING_PER_USER, default 1: one user's scans running at once, on all instances; 0: no cap

	LogLevel  string // LOG_LEVEL: debug, info (default), warn, error
	LogFormat string // LOG_FORMAT: text (default in local/test), json (default in prod)

	// Getenv is the lookup the configuration was read with (environment over .env),
	// kept for the provider settings that the llm package reads itself.
	Getenv func(string) string
}

// Production reports whether Mirror runs in production: RUN_MODE=prod or
// ENVIRONMENT=production.
func (c Config) Production() bool { return c.RunMode == "prod" || c.Environment == "production" }

// Development reports whether the developer pages (/docs, /redoc, /openapi.json) are on.
func (c Config) Development() bool { return c.Environment == "development" && c.RunMode != "prod" }

// Lookup returns getenv layered over the .env file at path: the process environment
// wins, the file fills gaps. A missing file is not an error.
func Lookup(getenv func(string) string, path string) (func(string) string, error) {
	file, err := godotenv.Read(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return getenv, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return file[k]
	}, nil
}

// Load reads the configuration through getenv (see Lookup for the .env layer).
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{Getenv: getenv}
	c.RunMode = p.oneOf("RUN_MODE", "local", "local", "prod", "test")
	c.Environment = p.oneOf("ENVIRONMENT", "development", "development", "production")
	c.ProjectName = cmp.Or(getenv("PROJECT_NAME"), "Mirror")
	c.Version = cmp.Or(getenv("VERSION"), "0.1.0")
	c.Port = p.intRange("PORT", 8000, 1, 65535)
	c.DataDir = cmp.Or(getenv("MIRROR_DATA_DIR"), "data")

	c.PersistenceEnabled = p.boolean("PERSISTENCE_ENABLED", c.RunMode != "test")
	c.DatabaseURL = strings.TrimSpace(getenv("DATABASE_URL"))
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.ToSlash(filepath.Join(c.DataDir, "mirror.db"))
	}
	c.DatabaseDirectURL = cmp.Or(strings.TrimSpace(getenv("DATABASE_DIRECT_URL")), c.DatabaseURL)
	c.MigrateOnStart = p.boolean("MIGRATE_ON_START", true)
	c.RedisURL = strings.TrimSpace(getenv("REDIS_URL"))
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			p.fail("REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
		}
	}
	c.ModelsConfig = getenv("MODELS_CONFIG")

	c.CORSOrigins = p.list("CORS_ORIGINS")
	if raw := strings.TrimSpace(getenv("BACKEND_CORS_ORIGINS")); raw != "" {
		var origins []string
		if err := json.Unmarshal([]byte(raw), &origins); err != nil {
			p.fail("BACKEND_CORS_ORIGINS", `must be a JSON list of origins, e.g. ["http://localhost:3000"]`)
		}
		c.CORSOrigins = append(c.CORSOrigins, origins...)
	}
	for _, o := range c.CORSOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			p.fail("CORS_ORIGINS", fmt.Sprintf("origin %q must be scheme://host[:port]", o))
		}
	}
	c.AllowedHosts = p.list("ALLOWED_HOSTS")
	if len(c.AllowedHosts) == 0 {
		c.AllowedHosts = []string{"*"}
	}

	c.TrustProxyHeaders = p.boolean("TRUST_PROXY_HEADERS", false)
	c.TrustedProxyHops = p.intRange("TRUSTED_PROXY_HOPS", 1, 1, 16)
	c.MaxRequestBodyBytes = int64(p.intRange("MAX_REQUEST_BODY_BYTES", 65536, 1, 1<<30))
	c.MaxUploadBytes = int64(p.intRange("MAX_UPLOAD_BYTES", 2<<30, 1, 1<<42))
	c.MaxProbePackBytes = int64(p.intRange("MAX_PROBE_PACK_BYTES", 1<<20, 1024, 1<<20))
	c.ArtifactQuotaBytes = int64(p.intRange("ARTIFACT_QUOTA_BYTES", 2<<30, 0, 1<<50))
	c.BodyReadTimeout = time.Duration(p.intRange("BODY_READ_TIMEOUT_SECONDS", 30, 1, 3600)) * time.Second
	c.MaxConnsPerClient = p.intRange("MAX_CONNECTIONS_PER_CLIENT", 64, 0, 1<<20)
	c.MaxConns = p.intRange("MAX_CONNECTIONS", 2048, 0, 1<<20)
	c.CSPReportOnly = p.boolean("CSP_REPORT_ONLY", true)

	c.RateLimitGenerate = cmp.Or(getenv("RATE_LIMIT_GENERATE"), "5/minute,30/hour")
	c.RateLimitFeedbackThumb = cmp.Or(getenv("RATE_LIMIT_FEEDBACK_THUMB"), "30/minute,300/hour")
	c.RateLimitFeedbackEdit = cmp.Or(getenv("RATE_LIMIT_FEEDBACK_EDIT"), "15/minute,120/hour")
	c.RateLimitPerMinute = p.intRange("RATE_LIMIT_PER_MINUTE", 60, 1, 1<<30)
	c.RateLimitLogin = cmp.Or(getenv("RATE_LIMIT_LOGIN"), "10/minute,50/hour")
	c.RateLimitLoginAccount = cmp.Or(getenv("RATE_LIMIT_LOGIN_ACCOUNT"), "30/minute,200/hour,1000/day")

	c.WriteAPIKeys = p.list("WRITE_API_KEYS")

	c.SecretKey = getenv("SECRET_KEY")
	if c.Production() {
		if err := checkProductionSecret(c.SecretKey); err != nil {
			p.fail("SECRET_KEY", err.Error())
		}
	}
	c.AccessTokenLifetime = time.Duration(p.intRange("ACCESS_TOKEN_EXPIRE_MINUTES", 60, 1, 60*24*30)) * time.Minute
	// Normalized and checked (plain ASCII addresses) by auth.NewService.
	c.AdminEmails = p.list("ADMIN_EMAILS")
	c.ScanTargetAllowlist = p.list("SCAN_TARGET_ALLOWLIST")
	c.ScanWorkers = p.intRange("SCAN_WORKERS", 2, 0, 64)
	c.ScanLease = time.Duration(p.intRange("SCAN_LEASE_SECONDS", 30, 1, 3600)) * time.Second
	c.ScanMaxRunningPerUser = p.intRange("SCAN_MAX_RUNNING_PER_USER", 1, 0, 1024)

	c.LogLevel = p.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error")
	defFormat := "text"
	if c.Production() {
		defFormat = "json"
	}
	c.LogFormat = p.oneOf("LOG_FORMAT", defFormat, "text", "json")
	return c, errors.Join(p.errs...)
}

// placeholderSecrets are values that appear in examples and must never sign tokens.
var placeholderSecrets = []string{"your-secret-key", "changeme", "change-me", "secret", "dev", "development", "default", "please-change"}

func checkProductionSecret(s string) error {
	if s == "" {
		return errors.New("must be set in production (32 or more random bytes)")
	}
	low := strings.ToLower(s)
	for _, p := range placeholderSecrets {
		// A short word ("dev") is found by chance in one random key in a few
		// hundred: only the longer placeholders are looked for inside a key.
		if low == p || len(p) >= 6 && strings.Contains(low, p) {
			return errors.New("is a placeholder value; set 32 or more random bytes")
		}
	}
	if len(s) < 32 {
		return fmt.Errorf("is %d bytes; production needs at least 32", len(s))
	}
	return checkSecretStrength(s)
}

// minSecretBits is the least entropy, estimated from the key's own characters,
// that a production SECRET_KEY must show. 32 random hex digits (128 real bits)
// estimate at about 115; eight characters used evenly over 32 give 96.
const minSecretBits = 96

// checkSecretStrength refuses keys of 32+ bytes that are not random: blank, one or
// a few characters ("a"*32, "0"*32), a repeated pattern ("0123456789"*4), or runs
// of repeated or consecutive characters ("12345678901234567890…", "abcd…").
// The message says why, never what the key is.
func checkSecretStrength(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("is only whitespace; set 32 or more random bytes (e.g. openssl rand -hex 32)")
	}
	var counts [256]int
	distinct := 0
	for i := 0; i < len(s); i++ {
		if counts[s[i]] == 0 {
			distinct++
		}
		counts[s[i]]++
	}
	if distinct < 8 {
		return fmt.Errorf("uses only %d distinct characters; set 32 or more random bytes (e.g. openssl rand -hex 32)", distinct)
	}
	for p := 1; p <= len(s)/2; p++ {
		if s[p:] == s[:len(s)-p] {
			return fmt.Errorf("repeats a pattern of %d characters; set 32 or more random bytes (e.g. openssl rand -hex 32)", p)
		}
	}
	runs := 0
	for i := 1; i < len(s); i++ {
		if d := int(s[i]) - int(s[i-1]); d >= -1 && d <= 1 {
			runs++
		}
	}
	if 2*runs >= len(s)-1 {
		return errors.New("is mostly runs of repeated or consecutive characters; set 32 or more random bytes (e.g. openssl rand -hex 32)")
	}
	var bits float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(len(s))
			bits -= float64(c) * math.Log2(p)
		}
	}
	if bits < minSecretBits {
		return fmt.Errorf("has too little entropy (about %d bits from its character frequencies; at least %d needed); set 32 or more random bytes (e.g. openssl rand -hex 32)", int(bits), minSecretBits)
	}
	return nil
}

// parser collects every invalid variable, so one start-up reports them all.
type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, msg string) {
	p.errs = append(p.errs, fmt.Errorf("%s %s", name, msg))
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(strings.TrimSpace(p.getenv(name)))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, fmt.Sprintf("is %q; must be one of %s", v, strings.Join(allowed, ", ")))
	return def
}

func (p *parser) boolean(name string, def bool) bool {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		switch strings.ToLower(v) {
		case "yes", "on":
			return true
		case "no", "off":
			return false
		}
		p.fail(name, fmt.Sprintf("is %q; must be true or false", v))
		return def
	}
	return b
}

func (p *parser) intRange(name string, def, lo, hi int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Sprintf("is %q; must be a whole number from %d to %d", v, lo, hi))
		return def
	}
	return n
}

func (p *parser) list(name string) []string {
	var out []string
	for _, part := range strings.Split(p.getenv(name), ",") {
		if s := strings.TrimSpace(part); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// EnsureSecret fills c.SecretKey outside production when it is unset: a random key is
// generated once and kept in DataDir/secret_key (mode 0600), so tokens survive a
// restart. Production never gets here without a checked SECRET_KEY (see Load).
func EnsureSecret(c *Config) error {
	if c.SecretKey != "" {
		return nil
	}
	if c.Production() {
		return errors.New("SECRET_KEY must be set in production")
	}
	path := filepath.Join(c.DataDir, "secret_key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		c.SecretKey = strings.TrimSpace(string(b))
		return nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data folder for the generated SECRET_KEY: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generate SECRET_KEY: %w", err)
	}
	c.SecretKey = hex.EncodeToString(key)
	if err := os.WriteFile(path, []byte(c.SecretKey+"\n"), 0o600); err != nil {
		return fmt.Errorf("keep the generated SECRET_KEY in %s: %w", path, err)
	}
	return nil
}
