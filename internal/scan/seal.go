package scan

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Sealer encrypts the API keys that scans of outside endpoints carry, so a key sits
// in the database only as AES-256-GCM ciphertext, and only while its job lives. The
// standard library's AEAD is the whole mechanism; the key comes from SECRET_KEY.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer over a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("sealer key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain, bound to the job id (a sealed key cannot be moved to another
// job). An empty plain seals to "".
func (s *Sealer) Seal(jobID, plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(jobID))
	return base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal returned for the same job id.
func (s *Sealer) Open(jobID, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("open sealed key: malformed")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(jobID))
	if err != nil {
		return "", errors.New("open sealed key: authentication failed (SECRET_KEY changed?)")
	}
	return string(plain), nil
}
