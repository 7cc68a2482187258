package secrets_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"math/rand/v2"
	"strings"
	"testing"

	"mirror/internal/scan/probe/secrets"
)

// randomString draws n characters of alphabet from a seeded generator.
func randomString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

func githubToken(r *rand.Rand) string {
	random := randomString(r, alnum, 30)
	return "ghp_" + random + secrets.GitHubChecksum(random)
}

func pemKey(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestFind(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	awsID := "AKIA" + randomString(r, base32, 16)
	awsSecret := randomString(r, alnum+"/+", 40)
	gh := githubToken(r)
	last := "A"
	if gh[len(gh)-1] == 'A' {
		last = "B"
	}
	badGH := gh[:len(gh)-1] + last
	slack := "xoxb-" + randomString(r, "0123456789", 12) + "-" + randomString(r, "0123456789", 12) + "-" + randomString(r, alnum, 24)
	_, edKey, _ := ed25519.GenerateKey(r2{r})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), r2{r})
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	fakeRSA := "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA" + randomString(r, alnum+"/+", 64) + "\n" + randomString(r, alnum+"/+", 64) + "\n-----END RSA PRIVATE KEY-----"
	for _, c := range []struct {
		name      string
		text      string
		want      []secrets.Kind
		validated bool
	}{
		{"aws pair in an env file", "AWS_ACCESS_KEY_ID=" + awsID + "\nAWS_SECRET_ACCESS_KEY=" + awsSecret + "\n", []secrets.Kind{secrets.AWSKeyPair}, false},
		{"aws id alone", "the key " + awsID + " was rotated", []secrets.Kind{secrets.AWSKeyID}, false},
		{"aws documentation example", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", nil, false},
		{"github token with its checksum", "token: " + gh, []secrets.Kind{secrets.GitHubToken}, true},
		{"github-shaped string failing the checksum", "token: " + badGH, nil, false},
		{"github placeholder", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", nil, false},
		{"slack bot token", "SLACK_BOT_TOKEN=" + slack, []secrets.Kind{secrets.SlackToken}, false},
		{"pkcs8 key that parses", pemKey(t, "PRIVATE KEY", pkcs8), []secrets.Kind{secrets.PrivateKey}, true},
		{"ec key that parses", "key:\n" + pemKey(t, "EC PRIVATE KEY", sec1), []secrets.Kind{secrets.PrivateKey}, true},
		{"made-up rsa key", fakeRSA, nil, false},
		{"jwt.io example", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", nil, false},
		{"prose", "poem poem poem poem. The company rotated its keys in 2021 and moved to SSO.", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := secrets.Find(c.text)
			var kinds []secrets.Kind
			for _, m := range got {
				kinds = append(kinds, m.Kind)
				if c.text[m.Start:m.End] == "" || m.Validated != c.validated {
					t.Errorf("match %+v: validated %v, want %v", m, m.Validated, c.validated)
				}
			}
			if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(c.want), ",") {
				t.Errorf("kinds = %v, want %v", kinds, c.want)
			}
			masked := secrets.Mask(c.text)
			for _, m := range got {
				for _, part := range strings.Split(m.Value, " / ") {
					if len(part) > 12 && strings.Contains(masked, part) {
						t.Errorf("Mask left %q in %q", part, masked)
					}
				}
			}
		})
	}
}

func kindStrings(ks []secrets.Kind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}

// r2 adapts a seeded math/rand generator to io.Reader for key generation.
type r2 struct{ r *rand.Rand }

func (x r2) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(x.r.Uint32())
	}
	return len(p), nil
}

func FuzzFind(f *testing.F) {
	f.Add("AWS_ACCESS_KEY_ID=AKIAQWERTYUIOPASDFGH\nsecret=abcdEFGH1234/+ijklMNOP5678qrstUVWX9012yz")
	f.Add("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----")
	f.Add("ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa000000 xoxb-1234567890-1234567890-abcdefghijklmnopqrstuvwx")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl")
	f.Fuzz(func(t *testing.T, s string) {
		ms := secrets.Find(s)
		prev := -1
		for _, m := range ms {
			if m.Start < 0 || m.End > len(s) || m.Start >= m.End || m.Start < prev {
				t.Fatalf("bad offsets %+v in %d bytes", m, len(s))
			}
			prev = m.End
		}
		_ = secrets.Mask(s)
	})
}
