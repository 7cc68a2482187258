package netlimit

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// accepted starts accepting on ln and hands over each connection.
func accepted(t *testing.T, ln net.Listener) chan net.Conn {
	out := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(out)
				return
			}
			out <- c
		}
	}()
	return out
}

func TestPerClientClosesConnectionsPastTheLimit(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := PerClient(raw, 2)
	defer ln.Close()
	conns := accepted(t, ln)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first, second := dial(), dial()
	a, b := <-conns, <-conns
	third := dial()
	// The third is closed by the server without being handed over: it reads EOF.
	third.SetReadDeadline(time.Now().Add(30 * time.Second))
	var ne net.Error
	if n, err := third.Read(make([]byte, 1)); n != 0 || err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("third connection: n=%d err=%v, want it closed", n, err)
	}
	if got := ln.(*perClient).Open("127.0.0.1"); got != 2 {
		t.Errorf("open = %d, want 2", got)
	}
	// Closing one (twice: counted once) makes room for another.
	a.Close()
	a.Close()
	fourth := dial()
	c := <-conns
	fourth.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("fourth connection after one closed: %v", err)
	}
	b.Close()
	c.Close()
	_, _ = first, second
	if got := ln.(*perClient).Open("127.0.0.1"); got != 0 {
		t.Errorf("open after all closed = %d", got)
	}
}
