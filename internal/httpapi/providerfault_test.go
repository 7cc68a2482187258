package httpapi

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"mirror/internal/llm/llmtest"
	"mirror/internal/testenv"
)

// TestProviderFaultsThroughATCPProxy puts a TCP proxy between Mirror and its
// provider: with the provider cut off, /generate_response answers 502 in the
// envelope naming the provider, and once the provider is back it answers again with
// no restart.
func TestProviderFaultsThroughATCPProxy(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.Text("A mirror reflects."))
	u, _ := url.Parse(srv.BaseURL)
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr
	ts := gatewayServer(t, map[string]string{"openai": srv.Key}, map[string]string{"openai": u.String()})

	if resp, body := ts.do(t, "POST", "/generate_response", gen("oai")); resp.StatusCode != 200 {
		t.Fatalf("before the cut: %d %v", resp.StatusCode, body)
	}
	proxy.Cut()
	resp, body := ts.do(t, "POST", "/generate_response", gen("oai"))
	e := checkEnvelope(t, resp, body, 502, "upstream_error")
	if !strings.Contains(e["message"].(string), "openai") {
		t.Errorf("the message does not name the provider: %v", e)
	}
	proxy.Restore()
	if resp, body := ts.do(t, "POST", "/generate_response", gen("oai")); resp.StatusCode != 200 || body["response"] != "A mirror reflects." {
		t.Fatalf("after the provider returned: %d %v", resp.StatusCode, body)
	}
}

// TestProviderSpeaksGarbage: a provider address that answers with bytes that are
// not HTTP, or that resets the connection, is a 502 in the envelope, never a 500
// or a hang.
func TestProviderSpeaksGarbage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(c net.Conn)
	}{
		{"not http", func(c net.Conn) { c.Write([]byte("\x00\xffSSH-2.0-nonsense\r\n\r\n")) }},
		{"reset", func(c net.Conn) {
			if tcp, ok := c.(*net.TCPConn); ok {
				tcp.SetLinger(0) // RST instead of FIN
			}
		}},
		{"cut after the head", func(c net.Conn) {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"id\":\"x\",\"choices\":[{\"mess"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					buf := make([]byte, 4096)
					c.Read(buf) // the request head
					tc.reply(c)
					c.Close()
				}
			}()
			ts := gatewayServer(t, map[string]string{"openai": "sk-test"}, map[string]string{"openai": "http://" + ln.Addr().String() + "/v1"})
			resp, body := ts.do(t, "POST", "/generate_response", gen("oai"))
			checkEnvelope(t, resp, body, 502, "upstream_error")
		})
	}
}
