package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/genai"

	"mirror/internal/apperr"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"none", http.Header{}, 0},
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"fractional seconds", http.Header{"Retry-After": {"0.25"}}, 250 * time.Millisecond},
		{"milliseconds win", http.Header{"Retry-After-Ms": {"120"}, "Retry-After": {"9"}}, 120 * time.Millisecond},
		{"bad milliseconds fall back", http.Header{"Retry-After-Ms": {"soon"}, "Retry-After": {"2"}}, 2 * time.Second},
		{"http date", http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0},
		{"negative", http.Header{"Retry-After": {"-5"}}, 0},
		{"nan", http.Header{"Retry-After": {"NaN"}}, 0},
		{"infinite", http.Header{"Retry-After": {"+Inf"}}, maxRetryAfter},
		{"huge", http.Header{"Retry-After": {"1e300"}}, maxRetryAfter},
		{"garbage", http.Header{"Retry-After": {"later please"}}, 0},
		{"spaces", http.Header{"Retry-After": {"  3 "}}, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.header, now); got != tc.want {
				t.Errorf("parseRetryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseGoogleDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "1.5s": 1500 * time.Millisecond, "0s": 0, "": 0,
		"10": 0, "-1s": 0, "abcs": 0, "1e99s": maxRetryAfter,
	} {
		if got := parseGoogleDuration(in); got != want {
			t.Errorf("parseGoogleDuration(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	const key = "sk-proj-Abc123Def456Ghi789"
	cases := []struct{ in, want string }{
		{"Incorrect API key provided: " + key + ".", "Incorrect API key provided: [redacted]."},
		{"Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]"},
		{"other key sk-live-0123456789 here", "other key [redacted] here"},
		{"masked sk-proj-abc***wxyz too", "masked [redacted] too"},
		{"url https://x/v1?key=AIzaSecretValue&alt=sse", "url https://x/v1?key=[redacted]&alt=sse"},
		{"google AIzaSyA1234567890abcdefghijkl", "google [redacted]"},
		{"x-api-key: sk-ant-api03-zzz", "x-api-key: [redacted]"},
		{"x-goog-api-key abcdef", "x-goog-api-key [redacted]"},
		{"api_key=hunter2", "api_key=[redacted]"},
		{"Incorrect API key provided: sk-proj-Abc123Def4....", "Incorrect API key provided: [redacted]"},
		{"Incorrect API key provided: gsk_GROQsecretKEY99990000aaaa....", "Incorrect API key provided: [redacted]"},
		{"key gsk_GROQ**********bbbb is invalid", "key [redacted] is invalid"},
		{"xai-0123456789abcdef and hf_abcdefghijkl", "[redacted] and [redacted]"},
		{"a task-force of risk-takers", "a task-force of risk-takers"},
		{"The model `gpt-x` does not exist", "The model `gpt-x` does not exist"},
	}
	for _, tc := range cases {
		if got := scrub(tc.in, key); got != tc.want {
			t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A key of no known shape, echoed cut short: only its own prefix gives it away.
	const custom = "custom-token-ABCDEFGHIJKLMNOPQRSTUV"
	if got := scrub("Invalid token custom-token-ABCDEFGHIJKLMNOPQR...", custom); got != "Invalid token [redacted]" {
		t.Errorf("cut custom key: %q", got)
	}
}

func TestCleanMessage(t *testing.T) {
	long := strings.Repeat("é", 1000)
	cases := []struct{ name, in, key, want string }{
		{"collapses space", "  line one\n\n\tline\x00two  ", "", "line one line two"},
		{"drops invalid utf-8", "ok\xff\xfe done", "", "ok done"},
		{"bounds length", long, "", strings.Repeat("é", maxMessageRunes) + "…"},
		{"key at the cut leaves no fragment", strings.Repeat("a ", 149) + "SECRETKEY123 tail", "SECRETKEY123", strings.Repeat("a ", 149) + "[r…"},
		{"key kept out", "bad key SECRETKEY123 given", "SECRETKEY123", "bad key [redacted] given"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := cleanMessage(tc.in, tc.key)
			if got != tc.want {
				t.Errorf("cleanMessage = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKindOfStatus(t *testing.T) {
	for status, want := range map[int]ErrorKind{
		400: KindBadRequest, 401: KindAuth, 403: KindAuth, 404: KindBadRequest, 408: KindServer,
		413: KindBadRequest, 422: KindBadRequest, 429: KindRateLimited, 500: KindServer, 503: KindServer, 529: KindServer,
	} {
		if got := kindOfStatus(status); got != want {
			t.Errorf("kindOfStatus(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestAppError(t *testing.T) {
	cases := []struct {
		err        error
		code       apperr.Code
		retryAfter int
		contains   string
	}{
		{&Error{Provider: "openai", Kind: KindNotConfigured, Message: "no API key configured (set OPENAI_API_KEY)"}, apperr.ProviderNotConfigured, 0, "OPENAI_API_KEY"},
		{&Error{Provider: "groq", Kind: KindRateLimited, Status: 429, RetryAfter: 1500 * time.Millisecond}, apperr.UpstreamRateLimited, 2, "groq"},
		{&Error{Provider: "groq", Kind: KindRateLimited, Status: 429}, apperr.UpstreamRateLimited, defaultRateLimitRetryAfter, "groq"},
		{&Error{Provider: "gemini", Kind: KindTimeout}, apperr.UpstreamTimeout, 0, "gemini"},
		{&Error{Provider: "anthropic", Kind: KindAuth, Status: 401, Message: "invalid x-api-key"}, apperr.UpstreamError, 0, "anthropic rejected the credentials (HTTP 401): invalid x-api-key"},
		{&Error{Provider: "openai", Kind: KindBadRequest, Status: 400, Message: "bad model"}, apperr.UpstreamError, 0, "(HTTP 400): bad model"},
		{&Error{Provider: "openai", Kind: KindServer, Status: 500}, apperr.UpstreamError, 0, "failed (HTTP 500)"},
		{&Error{Provider: "ollama", Kind: KindConnection, Message: "connection refused"}, apperr.UpstreamError, 0, "could not be reached"},
		{&Error{Provider: "openai", Kind: KindMalformed}, apperr.UpstreamError, 0, "unreadable"},
		{&Error{Provider: "openai", Kind: KindIncomplete}, apperr.UpstreamError, 0, "stopped before"},
		// An upstream message that ends a sentence gets no second period.
		{&Error{Provider: "openai", Kind: KindAuth, Status: 401, Message: "Find your key at the dashboard."}, apperr.UpstreamError, 0, "at the dashboard.\x00"},
	}
	for _, tc := range cases {
		got := AppError(tc.err)
		if got == nil {
			t.Fatalf("AppError(%v) = nil", tc.err)
		}
		if got.Code != tc.code || got.RetryAfter != tc.retryAfter || !strings.Contains(got.Message+"\x00", tc.contains) {
			t.Errorf("AppError(%v) = %+v, want code %s, retry after %d, message containing %q", tc.err, got, tc.code, tc.retryAfter, tc.contains)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("AppError(%v) does not wrap its cause", tc.err)
		}
	}
	for _, err := range []error{nil, errors.New("plain"), &Error{Provider: "openai", Kind: KindCanceled}} {
		if got := AppError(err); got != nil {
			t.Errorf("AppError(%v) = %v, want nil", err, got)
		}
	}
}

func TestMalformedReason(t *testing.T) {
	var syn error = &json.SyntaxError{Offset: 12}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("error parsing response json: %w", syn), "invalid JSON at byte 12"},
		{fmt.Errorf("x: %w", &json.UnmarshalTypeError{Value: "number", Field: "choices.message.content"}), "a JSON number where choices.message.content was expected"},
		{fmt.Errorf("unexpected end: %w", io.ErrUnexpectedEOF), "the JSON document is cut short"},
		{errors.New("expected destination type of 'string' or '[]byte' for responses with content-type 'text/html'"), "the body is not JSON"},
		{errors.New(`iterateResponseStream: invalid stream chunk: {"candidates": [`), "the body could not be decoded"},
	} {
		if got := malformedReason(tc.err); got != tc.want {
			t.Errorf("malformedReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestAnthropicFailure(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want *apiFailure
	}{
		{"in-stream overloaded", errors.New(streamErrorPrefix + `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`),
			&apiFailure{message: "Overloaded", kind: KindServer}},
		{"in-stream rate limit", errors.New(streamErrorPrefix + `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`),
			&apiFailure{message: "slow down", kind: KindRateLimited}},
		{"in-stream garbage", errors.New(streamErrorPrefix + `not json`), &apiFailure{kind: KindServer}},
		{"other", errors.New("dial tcp: refused"), nil},
	}
	for _, tc := range cases {
		got := anthropicFailure(tc.err)
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%s: anthropicFailure = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestGeminiFailure(t *testing.T) {
	var invalidKey, limited genai.APIError
	mustJSON(t, `{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}`, &invalidKey)
	mustJSON(t, `{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}`, &limited)
	if got := geminiFailure(invalidKey); got == nil || got.kind != KindAuth || got.status != 400 {
		t.Errorf("invalid key: %+v, want auth with status 400", got)
	}
	if got := geminiFailure(limited); got == nil || got.retryAfter != 12*time.Second || got.status != 429 {
		t.Errorf("rate limited: %+v, want retryAfter 12s", got)
	}
	if got := geminiFailure(errors.New("other")); got != nil {
		t.Errorf("non-API error: %+v, want nil", got)
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseRetryAfter: any header value gives a wait in [0, maxRetryAfter].
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "0.5", "-1", "NaN", "1e400", "Wed, 21 Oct 2015 07:28:00 GMT", "", "9223372036854775807"} {
		f.Add(s, s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, ms, secs string) {
		for _, h := range []http.Header{{"Retry-After-Ms": {ms}}, {"Retry-After": {secs}}, {"Retry-After-Ms": {ms}, "Retry-After": {secs}}} {
			if got := parseRetryAfter(h, now); got < 0 || got > maxRetryAfter {
				t.Fatalf("parseRetryAfter(%v) = %v out of range", h, got)
			}
		}
		if got := parseGoogleDuration(secs); got < 0 || got > maxRetryAfter {
			t.Fatalf("parseGoogleDuration(%q) = %v out of range", secs, got)
		}
	})
}

// FuzzCleanMessage: the key never survives, the result is valid UTF-8 and bounded.
func FuzzCleanMessage(f *testing.F) {
	f.Add("Incorrect API key provided: sk-proj-XYZ12345678.", "sk-proj-XYZ12345678")
	f.Add("Bearer abc\x00def\xff key=zz", "abcdefgh")
	f.Add(strings.Repeat("x", 400)+"KEY0123456789", "KEY0123456789")
	f.Fuzz(func(t *testing.T, msg, key string) {
		got := cleanMessage(msg, key)
		if !utf8.ValidString(got) {
			t.Fatalf("cleanMessage gave invalid UTF-8 %q", got)
		}
		if n := utf8.RuneCountInString(got); n > maxMessageRunes+1 {
			t.Fatalf("cleanMessage gave %d runes", n)
		}
		if len(key) >= 8 && isAlnum(key) && !strings.Contains("[redacted]", key) && strings.Contains(got, key) {
			t.Fatalf("cleanMessage(%q, %q) = %q keeps the key", msg, key, got)
		}
	})
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// FuzzUpstreamErrorBodies feeds arbitrary bytes to every decoder of upstream
// error bodies: none may panic, and a parsed wait stays bounded.
func FuzzUpstreamErrorBodies(f *testing.F) {
	f.Add([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	f.Add([]byte(`{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1e9s"}]}`))
	f.Add([]byte(`{"error":{"message":"boom"}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = streamErrorMessage(data)
		_ = anthropicFailure(errors.New(streamErrorPrefix + string(data)))
		var apiErr genai.APIError
		if json.Unmarshal(data, &apiErr) == nil {
			if got := geminiFailure(apiErr); got != nil && (got.retryAfter < 0 || got.retryAfter > maxRetryAfter) {
				t.Fatalf("retryAfter %v out of range", got.retryAfter)
			}
		}
	})
}
