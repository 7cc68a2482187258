// Package clientip derives the key that identifies an HTTP client for rate
// limiting: its IP address, taken from the socket or, behind a trusted proxy, from
// the X-Forwarded-For entries that proxy appended.
//
// Keys are normalised so that one client cannot spread its requests over many
// keys: an IPv4-mapped IPv6 address is its IPv4 address, zones are dropped, and an
// IPv6 client is keyed by its /64, the smallest prefix a site is usually given
// (one host can pick any of 2^64 addresses inside it).
package clientip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrBadRemoteAddr is returned by Key when the socket address is not an IP (a Unix
// socket listener, say). There is no client key to limit by, so callers should
// deny or count such requests under one shared key, never let them through
// unlimited.
var ErrBadRemoteAddr = errors.New("clientip: remote address is not an IP address")

// maxEntryLen bounds one address in X-Forwarded-For: the longest IPv6 address with
// brackets, zone and port is shorter. Longer entries are malformed.
const maxEntryLen = 96

// Key returns the rate-limit key of a request from its socket address (as in
// http.Request.RemoteAddr, "ip:port") and its X-Forwarded-For values (as
// http.Header.Values returns them, in order), e.g. "203.0.113.7" or
// "2001:db8:1:2::/64".
//
// With trustProxy false the key is the socket address and xff is ignored: a client
// talking to the server directly cannot choose its key.
//
// With trustProxy true the server sits behind hops trusted proxies (API.md's
// TRUSTED_PROXY_HOPS, 1 by default), each of which appends the address it received
// the request from. The client is the hops-th address from the right of all the
// X-Forwarded-For values taken together; what the client itself sent is to the
// left of it and never read, so a forged header changes nothing. If the rightmost
// hops entries are not all IP addresses (missing, empty, "unknown", garbage), the
// request did not come through the expected chain and the key is the socket
// address (the proxy's), so such requests share one key rather than escaping
// limits. An entry may carry a port ("1.2.3.4:80", "[2001:db8::1]:443").
//
// Key fails only when remoteAddr is not an IP address (ErrBadRemoteAddr), or when
// trustProxy is set with hops < 1. The work is linear in the bytes of the
// rightmost hops entries; longer input is not read.
func Key(remoteAddr string, xff []string, trustProxy bool, hops int) (string, error) {
	socket, ok := parseEntry(remoteAddr)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrBadRemoteAddr, truncate(remoteAddr))
	}
	if trustProxy {
		if hops < 1 {
			return "", fmt.Errorf("clientip: trusted proxy hops is %d, want at least 1", hops)
		}
		if client, ok := forwarded(xff, hops); ok {
			return keyOf(client), nil
		}
	}
	return keyOf(socket), nil
}

// forwarded returns the hops-th X-Forwarded-For entry from the right, provided it
// and every entry to its right are IP addresses.
func forwarded(xff []string, hops int) (netip.Addr, bool) {
	seen := 0
	for v := len(xff) - 1; v >= 0; v-- {
		value := xff[v]
		for {
			i := strings.LastIndexByte(value, ',')
			addr, ok := parseEntry(value[i+1:])
			if !ok {
				return netip.Addr{}, false
			}
			if seen++; seen == hops {
				return addr, true
			}
			if i < 0 {
				break
			}
			value = value[:i]
		}
	}
	return netip.Addr{}, false // fewer entries than proxies
}

// parseEntry parses one address: "ip", "ip:port", "[ipv6]" or "[ipv6]:port",
// with optional surrounding spaces and tabs.
func parseEntry(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	if s == "" || len(s) > maxEntryLen {
		return netip.Addr{}, false
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if addr, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && addr.Is6() {
			return addr, true
		}
	}
	return netip.Addr{}, false
}

// keyOf normalises an address into a key: IPv4 (also when IPv4-mapped) as is,
// IPv6 as its /64 prefix, zones dropped.
func keyOf(addr netip.Addr) string {
	addr = addr.WithZone("").Unmap()
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

func truncate(s string) string {
	if len(s) > maxEntryLen {
		return s[:maxEntryLen] + "…"
	}
	return s
}
