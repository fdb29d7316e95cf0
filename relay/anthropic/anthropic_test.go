package anthropic

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"keypool/relay/pool"
)

func TestMergeBeta(t *testing.T) {
	tests := []struct {
		name   string
		client []string
		need   []string
		want   string
	}{
		{"keep_client", []string{"a,b"}, nil, "a,b"},
		{"add_missing_last", []string{"a"}, []string{"oauth-2025-04-20"}, "a,oauth-2025-04-20"},
		{"oauth_after_claude_code", []string{"claude-code-20250219,interleaved-thinking-2025-05-14"}, []string{"oauth-2025-04-20"},
			"claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14"},
		{"no_duplicate", []string{"x, oauth-2025-04-20"}, []string{"oauth-2025-04-20"}, "x,oauth-2025-04-20"},
		{"several_headers", []string{"a", "b,a"}, nil, "a,b"},
		{"none", nil, []string{"n"}, "n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MergeBeta(tt.client, tt.need...); got != tt.want {
				t.Errorf("MergeBeta(%q, %q) = %q, want %q", tt.client, tt.need, got, tt.want)
			}
		})
	}
}

func TestSetAuth(t *testing.T) {
	h := http.Header{"X-Api-Key": {"client"}, "Authorization": {"Bearer client"}}
	SetAuth(h, pool.AuthXAPIKey, "k")
	if h.Get("X-Api-Key") != "k" || h.Get("Authorization") != "" {
		t.Errorf("SetAuth(x-api-key): header %v, want only X-Api-Key: k", h)
	}
	SetAuth(h, pool.AuthBearer, "k")
	if h.Get("X-Api-Key") != "" || h.Get("Authorization") != "Bearer k" {
		t.Errorf("SetAuth(bearer): header %v, want only Authorization: Bearer k", h)
	}
}

func TestStreamTap(t *testing.T) {
	var tap StreamTap
	for _, ev := range []string{
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-opus-4-6\",\"usage\":{\"input_tokens\":5,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":2000,\"output_tokens\":1}}}\n\n",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"usage\"}}\n\n",
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":77}}\n\n",
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
	} {
		tap.Event([]byte(ev))
	}
	want := pool.Usage{InputTokens: 5, OutputTokens: 77, CacheWriteTokens: 100, CacheReadTokens: 2000, RawInputTokens: 5}
	if tap.Usage != want || tap.Model != "claude-opus-4-6" || tap.Error != "overloaded_error" {
		t.Errorf("tap = %+v, want usage %+v, model claude-opus-4-6, error overloaded_error", tap, want)
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, 429, "all out", 1500*time.Millisecond)
	const wantBody = `{"type":"error","error":{"type":"rate_limit_error","message":"all out"}}`
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" || rec.Body.String() != wantBody {
		t.Errorf("WriteError = %d, Retry-After %q, body %s; want 429, 2, %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body, wantBody)
	}
}

func TestResponseUsage(t *testing.T) {
	body := []byte(`{"id":"msg_1","type":"message","model":"claude-haiku-4-5","content":[{"type":"text","text":"the word \"usage\" appears in text"}],
		"usage" : {"input_tokens":3,"output_tokens":9,"cache_creation_input_tokens":4,"cache_read_input_tokens":5,"service_tier":"standard"}}`)
	model, u, ok := ResponseUsage(body)
	want := pool.Usage{InputTokens: 3, OutputTokens: 9, CacheWriteTokens: 4, CacheReadTokens: 5, RawInputTokens: 3}
	if !ok || model != "claude-haiku-4-5" || u != want {
		t.Errorf("ResponseUsage = %q, %+v, %v; want claude-haiku-4-5, %+v, true", model, u, ok, want)
	}
	for _, b := range []string{`{"input_tokens":42}`, `not json "usage": nope`} { // a count_tokens answer; garbage
		if model, u, ok := ResponseUsage([]byte(b)); ok {
			t.Errorf("ResponseUsage(%s) = %q, %+v, true; want ok false", b, model, u)
		}
	}
}

func FuzzResponseUsage(f *testing.F) {
	f.Add([]byte(`{"model":"m","usage":{"input_tokens":1,"cache_creation":{"ephemeral_5m_input_tokens":2}}}`))
	f.Add([]byte(`{"usage":"x\"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ResponseUsage(b) // must not panic
	})
}
