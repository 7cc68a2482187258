package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"mirror/internal/testenv"
)

// TestAdminOnlyByOperatorGrant is the penetration test's defect 1 on a running
// server, on SQLite and on Postgres: with ADMIN_EMAILS=admin@example.com,
// registering "Admin@Example.com " first gave the admin role, and "\u212Aadmin@…"
// (KELVIN SIGN) was stored as "kadmin@…". Now registration never grants admin,
// lookalikes are refused, and `mirror admin grant|revoke|list` is the operator's
// step, effective on the next request.
func TestAdminOnlyByOperatorGrant(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return testenv.PostgresDB(t, false) },
	}
	for name, dbURL := range stores {
		t.Run(name, func(t *testing.T) {
			env := scanEnv(t)
			env["ADMIN_EMAILS"] = "admin@example.com, Ops@Example.com"
			if u := dbURL(t); u != "" {
				env["DATABASE_URL"] = u
			}
			admin := func(args ...string) (int, string) {
				var out bytes.Buffer
				code := run(context.Background(), append([]string{"admin"}, args...), func(k string) string { return env[k] }, &out, &out)
				return code, out.String()
			}
			base, stop := startServe(t, env)
			defer stop()
			anon := &client{t: t, base: base}
			status, u := anon.json("POST", "/api/v1/auth/register", `{"email":"Admin@Example.com ","password":"correct horse battery"}`)
			if status != 201 || u["role"] != "user" || u["email"] != "admin@example.com" {
				t.Fatalf("register Admin@Example.com: %d %v, want 201 as a user", status, u)
			}
			for _, e := range []string{`\u212Aadmin@example.com`, `\uff41dmin@example.com`} {
				status, out := anon.json("POST", "/api/v1/auth/register", `{"email":"`+e+`","password":"correct horse battery"}`)
				if status != 422 || !strings.Contains(out["error"].(map[string]any)["details"].([]any)[0].(map[string]any)["field"].(string), "email") {
					t.Fatalf("register %s: %d %v, want 422 on email", e, status, out)
				}
			}
			status, out := anon.json("POST", "/api/v1/auth/login", `{"email":"admin@example.com","password":"correct horse battery"}`)
			if status != 200 {
				t.Fatalf("login: %d %v", status, out)
			}
			c := &client{t: t, base: base, token: out["access_token"].(string)}
			role := func() any { _, me := c.json("GET", "/api/v1/auth/me", ""); return me["role"] }
			if r := role(); r != "user" {
				t.Fatalf("role before the grant: %v", r)
			}
			if code, text := admin("grant", "ops@example.com"); code != 1 || !strings.Contains(text, "register first") {
				t.Fatalf("grant to no account: exit %d %s", code, text)
			}
			if code, text := admin("grant", "nobody@example.com"); code != 1 || !strings.Contains(text, "ADMIN_EMAILS") {
				t.Fatalf("grant outside ADMIN_EMAILS: exit %d %s", code, text)
			}
			if code, text := admin("grant", "ADMIN@example.com"); code != 0 || !strings.Contains(text, "granted admin to admin@example.com") {
				t.Fatalf("grant: exit %d %s", code, text)
			}
			if r := role(); r != "admin" {
				t.Fatalf("role after the grant: %v", r)
			}
			if code, text := admin("list"); code != 0 || !strings.HasPrefix(text, "admin@example.com ") {
				t.Fatalf("list: exit %d %q", code, text)
			}
			if code, text := admin("revoke", "admin@example.com"); code != 0 || !strings.Contains(text, "revoked") {
				t.Fatalf("revoke: exit %d %s", code, text)
			}
			if r := role(); r != "user" {
				t.Fatalf("role after revoke: %v", r)
			}
			if code, _ := admin("promote", "x@example.com"); code != 1 {
				t.Fatalf("unknown subcommand: exit %d", code)
			}
		})
	}
}
