package auth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DeriveKey derives a 32-byte key for one purpose from SECRET_KEY with HKDF-SHA256,
// so the token key, the CSRF key and the scan-secret key are independent even
// though they come from one configured secret.
func DeriveKey(secret, purpose string) ([]byte, error) {
	if secret == "" {
		return nil, errors.New("SECRET_KEY is empty")
	}
	k, err := hkdf.Key(sha256.New, []byte(secret), nil, "mirror/"+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("derive %s key: %w", purpose, err)
	}
	return k, nil
}

const (
	issuer   = "mirror"
	audience = "mirror-api"
)

// tokens signs and checks access tokens: JWTs (HS256) whose subject is the user id
// and whose id (jti) names the session for logout and for the CSRF token.
type tokens struct {
	signKey  []byte
	csrfKey  []byte
	lifetime time.Duration
	now      func() time.Time
}

type claims struct {
	jwt.RegisteredClaims
}

func (t *tokens) issue(userID string) (token, jti string, expires time.Time, err error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", "", time.Time{}, fmt.Errorf("token id: %w", err)
	}
	jti = hex.EncodeToString(b)
	now := t.now()
	expires = now.Add(t.lifetime).Truncate(time.Second)
	c := claims{jwt.RegisteredClaims{
		Issuer: issuer, Subject: userID, Audience: jwt.ClaimStrings{audience}, ID: jti,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(expires),
	}}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.signKey)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return token, jti, expires, nil
}

// maxTokenLen bounds what is parsed as a token.
const maxTokenLen = 4096

// parse checks token's signature, algorithm, issuer, audience and expiry.
func (t *tokens) parse(token string) (claims, error) {
	var c claims
	if len(token) > maxTokenLen {
		return c, errors.New("token too long")
	}
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.signKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(t.now))
	if err != nil {
		return c, err
	}
	if c.Subject == "" || c.ID == "" {
		return c, errors.New("token lacks subject or id")
	}
	return c, nil
}

// csrf returns the double-submit token of session jti: an HMAC of the session id,
// so a token planted by another site (cookie tossing) does not match this session.
func (t *tokens) csrf(jti string) string {
	m := hmac.New(sha256.New, t.csrfKey)
	m.Write([]byte(jti))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
