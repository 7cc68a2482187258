// Package netlimit bounds the connections a server holds open: in all, and per
// client address.
//
// golang.org/x/net/netutil.LimitListener bounds the total (Total below uses it),
// but nothing well kept bounds connections per client: one client opening
// hundreds of slow connections would take every slot from everyone else. PerClient
// is that small piece: it counts open connections by the peer's IP address and
// closes, at once, a new connection from an address that already holds its share.
package netlimit

import (
	"net"
	"sync"

	"golang.org/x/net/netutil"
)

// Total returns ln limited to n simultaneous connections (n ≤ 0: ln itself);
// past it, Accept waits for one to close.
func Total(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, n)
}

// PerClient returns ln with at most n open connections per peer IP address
// (n ≤ 0: ln itself). A connection past the limit is closed as soon as it is
// accepted, before a byte is read. The peer is the socket's address: behind a
// reverse proxy every client shares the proxy's, so raise the limit there.
func PerClient(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		return ln
	}
	return &perClient{Listener: ln, max: n, open: map[string]int{}}
}

type perClient struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (l *perClient) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := peer(c.RemoteAddr())
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &counted{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *perClient) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] <= 1 {
		delete(l.open, key)
		return
	}
	l.open[key]--
}

// Open returns how many connections the peer address key (an IP) holds open.
func (l *perClient) Open(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[key]
}

func peer(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

type counted struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *counted) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
