package clientip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string
		trust  bool
		hops   int
		want   string
	}{
		// Socket address only.
		{"ipv4 socket", "203.0.113.7:51234", nil, false, 1, "203.0.113.7"},
		{"ipv6 socket keyed by /64", "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443", nil, false, 1, "2001:db8:1:2::/64"},
		{"same /64, same key", "[2001:db8:1:2::1]:443", nil, false, 1, "2001:db8:1:2::/64"},
		{"other /64, other key", "[2001:db8:1:3::1]:443", nil, false, 1, "2001:db8:1:3::/64"},
		{"ipv4-mapped ipv6 is ipv4", "[::ffff:198.51.100.9]:80", nil, false, 1, "198.51.100.9"},
		{"zone stripped", "[fe80::1%eth0]:80", nil, false, 1, "fe80::/64"},
		{"socket without port", "192.0.2.1", nil, false, 1, "192.0.2.1"},
		{"loopback v6", "[::1]:8080", nil, false, 1, "::/64"},

		// Untrusted: X-Forwarded-For is ignored, whatever it says.
		{"forged header ignored without trust", "203.0.113.7:1", []string{"10.0.0.1"}, false, 1, "203.0.113.7"},

		// Trusted, one proxy: the rightmost entry, appended by the proxy.
		{"one proxy", "10.0.0.2:1", []string{"198.51.100.20"}, true, 1, "198.51.100.20"},
		{"forged entries to the left are ignored", "10.0.0.2:1", []string{"1.1.1.1, 2.2.2.2, 198.51.100.20"}, true, 1, "198.51.100.20"},
		{"forged header line before the proxy's", "10.0.0.2:1", []string{"1.1.1.1", "198.51.100.20"}, true, 1, "198.51.100.20"},
		{"forged garbage to the left", "10.0.0.2:1", []string{"<script>, ,,unknown, 198.51.100.20"}, true, 1, "198.51.100.20"},
		{"spaces and tabs", "10.0.0.2:1", []string{" \t198.51.100.20\t "}, true, 1, "198.51.100.20"},
		{"entry with port", "10.0.0.2:1", []string{"198.51.100.20:4711"}, true, 1, "198.51.100.20"},
		{"ipv6 entry keyed by /64", "10.0.0.2:1", []string{"2001:db8:9:8:7:6:5:4"}, true, 1, "2001:db8:9:8::/64"},
		{"bracketed ipv6 entry", "10.0.0.2:1", []string{"[2001:db8:9:8::4]"}, true, 1, "2001:db8:9:8::/64"},
		{"bracketed ipv6 entry with port", "10.0.0.2:1", []string{"[2001:db8:9:8::4]:443"}, true, 1, "2001:db8:9:8::/64"},
		{"mapped entry is ipv4", "10.0.0.2:1", []string{"::ffff:198.51.100.20"}, true, 1, "198.51.100.20"},

		// Trusted, proxy chain: the hops-th from the right.
		{"two proxies", "10.0.0.3:1", []string{"198.51.100.20, 10.0.0.2"}, true, 2, "198.51.100.20"},
		{"two proxies, forged left", "10.0.0.3:1", []string{"6.6.6.6, 198.51.100.20, 10.0.0.2"}, true, 2, "198.51.100.20"},
		{"two proxies over header lines", "10.0.0.3:1", []string{"6.6.6.6", "198.51.100.20", "10.0.0.2"}, true, 2, "198.51.100.20"},
		{"three proxies", "10.0.0.4:1", []string{"198.51.100.20, 10.0.0.2", "10.0.0.3"}, true, 3, "198.51.100.20"},

		// Trusted, but the chain is not as configured: fall back to the socket.
		{"no header", "10.0.0.2:1", nil, true, 1, "10.0.0.2"},
		{"empty header", "10.0.0.2:1", []string{""}, true, 1, "10.0.0.2"},
		{"rightmost entry empty", "10.0.0.2:1", []string{"198.51.100.20,"}, true, 1, "10.0.0.2"},
		{"rightmost header line empty", "10.0.0.2:1", []string{"198.51.100.20", " "}, true, 1, "10.0.0.2"},
		{"rightmost entry unknown", "10.0.0.2:1", []string{"198.51.100.20, unknown"}, true, 1, "10.0.0.2"},
		{"rightmost entry is a name", "10.0.0.2:1", []string{"client.example"}, true, 1, "10.0.0.2"},
		{"rightmost entry garbage", "10.0.0.2:1", []string{"1.2.3.4.5"}, true, 1, "10.0.0.2"},
		{"leading zeros refused", "10.0.0.2:1", []string{"010.001.002.003"}, true, 1, "10.0.0.2"},
		{"fewer entries than proxies", "10.0.0.3:1", []string{"198.51.100.20"}, true, 2, "10.0.0.3"},
		{"inner proxy entry malformed", "10.0.0.3:1", []string{"198.51.100.20, bogus"}, true, 2, "10.0.0.3"},
		{"oversized entry", "10.0.0.2:1", []string{strings.Repeat(" ", 50) + "1.2.3.4" + strings.Repeat("x", 100)}, true, 1, "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Key(tt.remote, tt.xff, tt.trust, tt.hops)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			if got != tt.want {
				t.Errorf("Key(%q, %q, %v, %d) = %q, want %q", tt.remote, tt.xff, tt.trust, tt.hops, got, tt.want)
			}
		})
	}
}

func TestKeyErrors(t *testing.T) {
	for _, remote := range []string{"", "@", "/run/mirror.sock", "example.com:80", "1.2.3.4:port"} {
		if _, err := Key(remote, nil, false, 1); !errors.Is(err, ErrBadRemoteAddr) {
			t.Errorf("Key(%q) error = %v, want ErrBadRemoteAddr", remote, err)
		}
	}
	if _, err := Key("10.0.0.2:1", []string{"198.51.100.20"}, true, 0); err == nil {
		t.Error("Key with trust and hops 0: nil error")
	}
	long := strings.Repeat("9", 10_000)
	_, err := Key(long, nil, false, 1)
	if err == nil || len(err.Error()) > 2*maxEntryLen+100 {
		t.Errorf("Key(10 kB remote) error = %.200v, want a short error", err)
	}
}

// FuzzKey checks, for any input, that Key either fails or returns a normalised key,
// that without trust only the socket matters, and that with trust nothing a client
// puts to the left of the proxies' entries changes the key.
func FuzzKey(f *testing.F) {
	f.Add("203.0.113.7:1", "1.1.1.1", "198.51.100.20", true, uint8(1))
	f.Add("[2001:db8::1]:443", "", "2001:db8:1:2::5, 10.0.0.2", true, uint8(2))
	f.Add("10.0.0.2:1", "x,,y", "[::ffff:1.2.3.4]:80", true, uint8(1))
	f.Add("[fe80::1%eth0]:80", "unknown", ", ,", true, uint8(3))
	f.Add("@", "", "", false, uint8(0))
	f.Fuzz(func(t *testing.T, remote, forged, proxied string, trust bool, hops uint8) {
		h := int(hops%8) + 1
		xff := strings.Split(proxied, "\n") // header lines as the proxies wrote them
		key, err := Key(remote, xff, trust, h)
		if err != nil {
			if !errors.Is(err, ErrBadRemoteAddr) {
				t.Fatalf("Key(%q, %q, %v, %d): unexpected error %v", remote, xff, trust, h, err)
			}
			return
		}
		checkNormalised(t, key)

		if !trust {
			if direct, _ := Key(remote, nil, false, h); key != direct {
				t.Fatalf("untrusted key %q depends on X-Forwarded-For (without: %q)", key, direct)
			}
			return
		}
		entries := 0
		for _, v := range xff {
			entries += strings.Count(v, ",") + 1
		}
		if entries < h {
			return // the key may be the socket's; no forwarded client to protect
		}
		// The client's own header, as an earlier line or merged into the proxy's
		// line by an appending proxy, must not change the key.
		for _, withForged := range [][]string{
			append([]string{forged}, xff...),
			append([]string{forged + "," + xff[0]}, xff[1:]...),
		} {
			if got, err := Key(remote, withForged, true, h); err != nil || got != key {
				t.Fatalf("forged %q changed the key: %q, %v; without it %q (xff %q, hops %d)", forged, got, err, key, xff, h)
			}
		}
	})
}

// checkNormalised fails unless key is an IPv4 address or a masked IPv6 /64.
func checkNormalised(t *testing.T, key string) {
	t.Helper()
	if addr, err := netip.ParseAddr(key); err == nil {
		if !addr.Is4() || addr.String() != key {
			t.Fatalf("key %q is an address but not canonical IPv4", key)
		}
		return
	}
	p, err := netip.ParsePrefix(key)
	if err != nil || p.Bits() != 64 || p.Masked() != p || !p.Addr().Is6() || p.Addr().Is4In6() || p.String() != key {
		t.Fatalf("key %q is neither IPv4 nor a canonical IPv6 /64", key)
	}
}
