package ssrf

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestPublic(t *testing.T) {
	cases := []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8", true},
		{"93.184.216.34", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.100.100.200", false}, // CGNAT range, Alibaba metadata
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"255.255.255.255", false},
		{"224.0.0.1", false},
		{"198.18.0.1", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"2002:7f00:1::1", false},  // 6to4 of 127.0.0.1
		{"2002:808:808::1", true},
		{"::2", false},
		{"::7f00:1", false},
	}
	for _, c := range cases {
		if got := Public(netip.MustParseAddr(c.addr)); got != c.public {
			t.Errorf("Public(%s) = %v, want %v", c.addr, got, c.public)
		}
	}
}

func TestNewRejectsBadEntries(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "http://x", "a b"} {
		if _, err := New([]string{bad}); err == nil {
			t.Errorf("New(%q) accepted a bad entry", bad)
		}
	}
}

// fakeResolver answers from a script: each lookup of a host takes the next answer
// (the last one repeats), so a test can change the answer between check and dial.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.answers[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	next := a[0]
	if len(a) > 1 {
		f.answers[host] = a[1:]
	}
	return []netip.Addr{netip.MustParseAddr(next)}, nil
}

func TestCheckURL(t *testing.T) {
	res := &fakeResolver{answers: map[string][]string{
		"public.example":   {"93.184.216.34"},
		"internal.example": {"10.0.0.7"},
		"meta.example":     {"169.254.169.254"},
		"lab.example":      {"10.9.0.1"},
	}}
	g, err := New([]string{"lab.example", "192.168.50.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	g = g.WithResolver(res)
	cases := []struct {
		url, wantErr string
	}{
		{"https://public.example/v1", ""},
		{"http://lab.example:8000/v1", ""},   // allowed by name
		{"http://192.168.50.9:11434/v1", ""}, // allowed by CIDR
		{"http://internal.example/v1", "non-public"},
		{"http://meta.example/latest", "non-public"},
		{"http://127.0.0.1:8000/", "non-public"},
		{"http://[::1]:8000/", "non-public"},
		{"http://192.168.51.9/", "non-public"},
		{"ftp://public.example/", "http"},
		{"public.example/v1", "http"},
		{"https://user:pw@public.example/", "credentials"},
		{"https://nowhere.example/", "cannot be resolved"},
		{"https:///path", "host"},
	}
	for _, c := range cases {
		_, err := g.CheckURL(context.Background(), c.url)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("CheckURL(%s): %v", c.url, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("CheckURL(%s) = %v, want error containing %q", c.url, err, c.wantErr)
		}
	}
}

func TestTransportRefusesLoopbackAtDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer srv.Close()
	g, _ := New(nil)
	_, err := g.Client().Get(srv.URL)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET %s through the guard: %v, want ErrBlocked", srv.URL, err)
	}
	allowed, _ := New([]string{"127.0.0.0/8"})
	resp, err := allowed.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("allow-listed loopback refused: %v", err)
	}
	resp.Body.Close()
}

// A host allowed by name redirects to a loopback address that is not allowed: the
// redirect's own connection is refused.
func TestRedirectToInternalRefused(t *testing.T) {
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer internal.Close()
	front := httptest.NewServer(http.RedirectHandler(internal.URL+"/admin", http.StatusFound))
	defer front.Close()
	res := &fakeResolver{answers: map[string][]string{"front.example": {"127.0.0.1"}}}
	g, _ := New([]string{"front.example"})
	g = g.WithResolver(res)
	port := front.URL[strings.LastIndex(front.URL, ":")+1:]
	_, err := g.Client().Get("http://front.example:" + port + "/")
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("redirect to %s: %v, want ErrBlocked", internal.URL, err)
	}
	// Without the redirect the allowed host is reached.
	direct := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer direct.Close()
	port = direct.URL[strings.LastIndex(direct.URL, ":")+1:]
	resp, err := g.Client().Get("http://front.example:" + port + "/")
	if err != nil {
		t.Fatalf("allowed host: %v", err)
	}
	resp.Body.Close()
}

// DNS rebinding: the name resolves to a public address when the URL is checked
// and to loopback when the connection is made. The dial-time check refuses it.
func TestRebindingRefusedAtDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer srv.Close()
	res := &fakeResolver{answers: map[string][]string{"rebind.example": {"93.184.216.34", "127.0.0.1"}}}
	g, _ := New(nil)
	g = g.WithResolver(res)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	u := "http://rebind.example:" + port + "/"
	if _, err := g.CheckURL(context.Background(), u); err != nil {
		t.Fatalf("first answer is public, check should pass: %v", err)
	}
	_, err := g.Client().Get(u)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("rebound to loopback: %v, want ErrBlocked", err)
	}
}

// FuzzCheckURL: whatever the URL, when every name resolves to loopback and nothing
// is allow-listed, CheckURL accepts it only if its host is a literal public address.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://a.example/", "http://127.0.0.1/", "http://[::ffff:7f00:1]/", "http://0x7f.1/",
		"http://2130706433/", "https://[64:ff9b::7f00:1]:443/x", "http://a.example%00.evil/", "http://[fe80::1%25eth0]/"} {
		f.Add(s)
	}
	g, _ := New(nil)
	g = g.WithResolver(loopbackResolver{})
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := g.CheckURL(context.Background(), raw)
		if err != nil {
			return
		}
		a, perr := netip.ParseAddr(strings.Trim(u.Hostname(), "[]"))
		if perr != nil || !Public(a) {
			t.Fatalf("CheckURL(%q) accepted host %q, which is not a literal public address", raw, u.Hostname())
		}
	})
}

type loopbackResolver struct{}

func (loopbackResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}
