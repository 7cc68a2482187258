package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func fuzzTokens() *tokens {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	return &tokens{signKey: []byte("0123456789abcdef0123456789abcdef"), csrfKey: []byte("csrf"), lifetime: time.Hour,
		now: func() time.Time { return now }}
}

// FuzzParseToken: whatever a client sends as a bearer token or session cookie, parse
// never panics, and accepts only a token this key signed (with HS256, our issuer and
// audience, a subject and an id): a mutated token is refused.
func FuzzParseToken(f *testing.F) {
	tk := fuzzTokens()
	good, _, _, err := tk.issue("user-1")
	if err != nil {
		f.Fatal(err)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "user-1", "jti": "x", "iss": issuer,
		"aud": audience, "exp": 4102444800}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, s := range []string{good, none, "", ".", "..", "a.b.c", good + "x", strings.ToUpper(good),
		"eyJhbGciOiJIUzI1NiJ9.e30.", strings.Repeat("A", maxTokenLen+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := tk.parse(s)
		if err != nil {
			return
		}
		// Accepted: it must carry a true HS256 MAC of its signed part under our
		// key, our issuer and audience, a subject and an id.
		i := strings.LastIndexByte(s, '.')
		sig, derr := base64.RawURLEncoding.DecodeString(s[i+1:])
		m := hmac.New(sha256.New, tk.signKey)
		m.Write([]byte(s[:i]))
		if derr != nil || !hmac.Equal(sig, m.Sum(nil)) {
			t.Fatalf("accepted %q without a valid MAC", s)
		}
		if c.Subject == "" || c.ID == "" || c.Issuer != issuer || len(c.Audience) != 1 || c.Audience[0] != audience {
			t.Fatalf("accepted %q with claims %+v", s, c)
		}
	})
}
