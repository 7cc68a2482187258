package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// slowConn opens a connection from the loopback address local, sends a request
// head declaring a 1000-byte body, and then one byte of it.
func slowConn(t *testing.T, base, local, method, path string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	return c
}

// answerThenClose reads what the server sends on c until it closes it, within a
// generous bound, and returns the response's status (0: closed with no response).
func answerThenClose(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	status := 0
	if resp, err := http.ReadResponse(br, nil); err == nil {
		status = resp.StatusCode
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	_, err := io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open past a minute (status %d so far)", status)
	}
	return status
}

// TestSlowBodiesAreCutOff is the penetration test's reproduction, bounded: 20
// connections declare a 1000-byte body and send one byte. With
// BODY_READ_TIMEOUT_SECONDS=1 each is answered and closed (the limit's 60 s is only
// the test's bound), on a route that never reads its body and on one that does.
func TestSlowBodiesAreCutOff(t *testing.T) {
	env := scanEnv(t)
	env["BODY_READ_TIMEOUT_SECONDS"] = "1"
	base, stop := startServe(t, env)
	defer stop()
	var conns []net.Conn
	for i := range 20 {
		method, path := "GET", "/health"
		if i%2 == 1 {
			method, path = "POST", "/feedback/thumb"
		}
		conns = append(conns, slowConn(t, base, "127.0.0.1", method, path))
	}
	for i, c := range conns {
		status := answerThenClose(t, c)
		if i%2 == 0 && status != 200 {
			t.Errorf("GET /health with a slow body: status %d", status)
		}
		if i%2 == 1 && status < 400 {
			t.Errorf("POST /feedback/thumb with a body that never arrived: status %d", status)
		}
	}
	if status, _ := getJSON(t, base+"/health"); status != 200 {
		t.Errorf("health after: %d", status)
	}
}

// TestConnectionsPerClient: with MAX_CONNECTIONS_PER_CLIENT=4, a client (here
// 127.0.0.2) holding four slow connections has its fifth closed unanswered, while
// another client (127.0.0.1) is served; once its connections end, it is served again.
func TestConnectionsPerClient(t *testing.T) {
	env := scanEnv(t)
	env["MAX_CONNECTIONS_PER_CLIENT"], env["BODY_READ_TIMEOUT_SECONDS"] = "4", "600"
	base, stop := startServe(t, env)
	defer stop()
	var held []net.Conn
	for range 4 {
		held = append(held, slowConn(t, base, "127.0.0.2", "GET", "/health"))
	}
	// A fifth is closed without an answer; the first four are still waiting.
	extra := slowConn(t, base, "127.0.0.2", "GET", "/health")
	if status := answerThenClose(t, extra); status != 0 {
		t.Errorf("fifth connection of one client was answered: %d", status)
	}
	if status, _ := getJSON(t, base+"/health"); status != 200 {
		t.Errorf("another client: %d", status)
	}
	for _, c := range held {
		c.Close()
	}
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client's slots were not given back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
