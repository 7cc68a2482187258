// Package ssrf keeps scans of user-supplied URLs from reaching the server's own
// network: loopback, private, link-local, unspecified, multicast and other
// non-public addresses are refused unless an operator allowed them
// (SCAN_TARGET_ALLOWLIST, hosts or CIDRs).
//
// The check runs twice. CheckURL resolves a URL when a scan is submitted, so a bad
// target is a 422 at once. Transport enforces the rule again at connect time, on
// the address actually dialled: a net.Dialer Control function sees every
// connection, so redirects to an internal host and DNS answers that change between
// the check and the dial (rebinding) are refused too.
package ssrf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrBlocked matches (errors.Is) every refusal of the guard.
var ErrBlocked = errors.New("address is not allowed for scan targets")

// BlockedError says which host and address were refused.
type BlockedError struct {
	Host string
	Addr netip.Addr
}

func (e *BlockedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("%s resolves to %s, a non-public address (allow it with SCAN_TARGET_ALLOWLIST)", e.Host, e.Addr)
	}
	return fmt.Sprintf("%s is a non-public address (allow it with SCAN_TARGET_ALLOWLIST)", e.Addr)
}

func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Blocked marks the error as the guard's refusal, for packages that classify
// transport failures without importing this one (llm: not retryable).
func (e *BlockedError) Blocked() bool { return true }

// Resolver looks up host names (net.DefaultResolver satisfies it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which addresses scans may reach. The zero value is not usable;
// build one with New.
type Guard struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
	resolver Resolver
}

// New returns a Guard that also allows the entries of allow: host names (matched
// exactly, case-insensitively, or "*.example.com" for subdomains), IP addresses or
// CIDR prefixes. An entry that is none of these is an error naming it.
func New(allow []string) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}, resolver: net.DefaultResolver}
	for _, raw := range allow {
		e := strings.ToLower(strings.TrimSpace(raw))
		switch {
		case e == "":
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("SCAN_TARGET_ALLOWLIST entry %q is not a valid CIDR", raw)
			}
			g.prefixes = append(g.prefixes, p.Masked())
		default:
			if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
				g.prefixes = append(g.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			if strings.ContainsAny(e, " :@?#") {
				return nil, fmt.Errorf("SCAN_TARGET_ALLOWLIST entry %q is not a host name, address or CIDR", raw)
			}
			g.hosts[strings.TrimSuffix(e, ".")] = true
		}
	}
	return g, nil
}

// WithResolver returns a copy of g that resolves names with r (tests).
func (g *Guard) WithResolver(r Resolver) *Guard {
	c := *g
	c.resolver = r
	return &c
}

// hostAllowed reports whether host is allowed by name.
func (g *Guard) hostAllowed(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if g.hosts[host] {
		return true
	}
	for h := range g.hosts {
		if strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) {
			return true
		}
	}
	return false
}

// AddrAllowed reports whether a connection to a may be made: a is public, or in
// an allowed prefix.
func (g *Guard) AddrAllowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range g.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return Public(a)
}

// nonPublic lists the IPv4 ranges that are not reachable on the public internet
// beyond what netip's predicates cover (RFC 6890 and successors).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, some cloud metadata services
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("::/8"),            // reserved, including IPv4-compatible ::a.b.c.d
}

// embeddedV4 lists IPv6 prefixes that carry an IPv4 address a translator may dial:
// NAT64 (the address in the last 32 bits) and 6to4 (in bits 16-48).
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64l    = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Public reports whether a is a globally routable unicast address: not loopback,
// private, link-local, unspecified, multicast, or another special-purpose range,
// including IPv4 addresses smuggled inside IPv4-mapped, NAT64 and 6to4 addresses.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a), nat64l.Contains(a):
			return Public(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(a):
			return Public(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// CheckURL validates a scan target URL: http or https, a host, no credentials in
// it, and every address the host resolves to allowed. The error is safe to show
// to the user who submitted the URL.
func (g *Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, errors.New("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("must be an http:// or https:// URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("must name a host")
	}
	if u.User != nil {
		return nil, errors.New("must not carry credentials; send the key as api_key")
	}
	host := u.Hostname()
	if g.hostAllowed(host) {
		return u, nil
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if !g.AddrAllowed(a) {
			return nil, &BlockedError{Host: host, Addr: a}
		}
	}
	return u, nil
}

func (g *Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("host %s cannot be resolved", host)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("host %s has no addresses", host)
	}
	return addrs, nil
}

// control is a net.Dialer Control function: it runs on the address about to be
// connected, after DNS resolution, for every connection attempt.
func (g *Guard) control(host string) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &BlockedError{Host: host}
		}
		if !g.AddrAllowed(ap.Addr()) {
			return &BlockedError{Host: host, Addr: ap.Addr().Unmap()}
		}
		return nil
	}
}

// DialContext dials addr ("host:port") only if the host is allowed by name or the
// address actually connected to is allowed.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ssrf guard: %w", err)
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !g.hostAllowed(host) {
		d.Control = g.control(host)
	}
	if g.resolver != net.DefaultResolver {
		// A test resolver: resolve here and dial the address, so the Control
		// check still sees the answer the test chose.
		if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err != nil {
			addrs, err := g.lookup(ctx, host)
			if err != nil {
				return nil, err
			}
			_, port, _ := net.SplitHostPort(addr)
			return d.DialContext(ctx, network, net.JoinHostPort(addrs[0].String(), port))
		}
	}
	return d.DialContext(ctx, network, addr)
}

// Transport returns an http.Transport whose every connection passes the guard.
// Proxies from the environment are not used: a proxy would connect on our behalf
// and the guard would only see the proxy's address.
func (g *Guard) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Client returns an HTTP client over Transport that follows at most five
// redirects; each redirect's connection is checked again by the dialer.
func (g *Guard) Client() *http.Client {
	return &http.Client{
		Transport: g.Transport(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to a %s URL refused", req.URL.Scheme)
			}
			return nil
		},
	}
}
