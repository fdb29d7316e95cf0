package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

func geminiHarness(t *testing.T) *harness {
	h := newHarness(t, []acct{{id: "g1", prio: 100}, {id: "g2", prio: 50}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "g1", Kind: pool.KindGeminiAPI, Priority: 100, Enabled: true, APIURL: h.ups["g1"].URL},
		{ID: "g2", Kind: pool.KindGeminiAPI, Priority: 50, Enabled: true, APIURL: h.ups["g2"].URL},
	})
	return h
}

// Google's genai SDK, with its base URL pointed at the relay's /gemini, the
// way Gemini CLI is pointed at it: generate, stream and count.
func TestGenaiSDK(t *testing.T) {
	h := geminiHarness(t)
	ctx := context.Background()
	client, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: "local-key", Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.http.URL + "/gemini/"}})
	if err != nil {
		t.Fatal(err)
	}
	h.ups["g1"].Push(relaytest.Reply{Body: relaytest.GeminiResponse("gemini-3.5-flash", "hello", 30, 10, 4)})
	res, err := client.Models.GenerateContent(ctx, "gemini-3.5-flash", genai.Text("hi"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text() != "hello" {
		t.Errorf("text = %q", res.Text())
	}
	up := h.ups["g1"].Requests()[0]
	if up.Path != "/v1beta/models/gemini-3.5-flash:generateContent" || up.Header.Get("X-Goog-Api-Key") != "sk-ant-test-g1" {
		t.Errorf("upstream saw %s key %q", up.Path, up.Header.Get("X-Goog-Api-Key"))
	}

	h.ups["g1"].Push(relaytest.Reply{Events: relaytest.GeminiStream("gemini-3.5-flash", []string{"a", "b", "c"}, 50, 20)})
	text := ""
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-3.5-flash", genai.Text("hi"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text += chunk.Text()
	}
	if text != "abc" {
		t.Errorf("stream text = %q", text)
	}
	if q := h.ups["g1"].Requests()[1].Query; q != "alt=sse" {
		t.Errorf("stream query = %q", q)
	}
	recs := waitRecords(t, h.sink, 2)
	want := relay.Usage{InputTokens: 30, CacheReadTokens: 20, OutputTokens: 3, RawInputTokens: 50}
	if r := recs[1]; r.Usage != want || !r.Stream || r.Model != "gemini-3.5-flash" {
		t.Errorf("stream record = %+v, want %+v", r, want)
	}

	h.ups["g1"].Push(relaytest.Reply{Body: `{"totalTokens": 7}`})
	n, err := client.Models.CountTokens(ctx, "gemini-3.5-flash", genai.Text("hi"), nil)
	if err != nil || n.TotalTokens != 7 {
		t.Fatalf("count = %+v, %v", n, err)
	}
}

// Gemini's quota and rate-limit errors fail over; a bad request does not.
func TestGeminiFailover(t *testing.T) {
	tests := []struct {
		name   string
		reply  relaytest.Reply
		status int
		reason string
		until  time.Duration
	}{
		{"rate_limit_retry_delay", relaytest.Reply{Status: 429, Body: relaytest.GoogleError(429, "RESOURCE_EXHAUSTED", "slow down",
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"},
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"})}, 200, "rate_limited", 17 * time.Second},
		{"daily_quota", relaytest.Reply{Status: 429, Body: relaytest.GoogleError(429, "RESOURCE_EXHAUSTED", "quota",
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []any{map[string]any{"quotaId": "GenerateRequestsPerDayPerProjectPerModel"}}})},
			200, "quota", time.Hour},
		{"invalid_key", relaytest.Reply{Status: 400, Body: relaytest.GoogleError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"})}, 200, "unavailable", time.Hour},
		{"server_error", relaytest.Reply{Status: 503, Body: relaytest.GoogleError(503, "UNAVAILABLE", "overloaded")}, 200, "overloaded", 10 * time.Second},
		{"bad_request_passes", relaytest.Reply{Status: 400, Body: relaytest.GoogleError(400, "INVALID_ARGUMENT", "contents is empty")}, 400, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := geminiHarness(t)
			h.ups["g1"].Push(tt.reply)
			resp, b := h.do("POST", "/gemini/v1beta/models/gemini-3.5-flash:generateContent", `{"contents":[{"role":"user","parts":[{"text":"`+tt.name+`"}]}]}`,
				map[string]string{"x-api-key": "", "x-goog-api-key": "local-key"})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			a := h.account("g1")
			if tt.reason == "" {
				if len(a.Cooldowns) != 0 {
					t.Errorf("cooldowns %+v", a.Cooldowns)
				}
				return
			}
			if len(a.Cooldowns) != 1 || a.Cooldowns[0].Reason != tt.reason || !a.Cooldowns[0].Until.Equal(h.clock.Now().Add(tt.until)) {
				t.Errorf("cooldowns %+v, want %s for %v", a.Cooldowns, tt.reason, tt.until)
			}
		})
	}
}

// A Gemini conversation (no session id: a fingerprint of its first turn)
// stays on one account; path tricks in the model segment never leave the
// relay; errors are in Google's format.
func TestGeminiStickyAndPaths(t *testing.T) {
	h := newHarness(t, []acct{{id: "g1", prio: 5}, {id: "g2", prio: 5}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "g1", Kind: pool.KindGeminiAPI, Priority: 5, Enabled: true, APIURL: h.ups["g1"].URL},
		{ID: "g2", Kind: pool.KindGeminiAPI, Priority: 5, Enabled: true, APIURL: h.ups["g2"].URL},
	})
	key := map[string]string{"x-api-key": "", "x-goog-api-key": "local-key"}
	turn := func(n int) string {
		msgs := `{"role":"user","parts":[{"text":"refactor this"}]}`
		for i := 0; i < n; i++ {
			msgs += `,{"role":"model","parts":[{"text":"ok"}]},{"role":"user","parts":[{"text":"more"}]}`
		}
		return `{"systemInstruction":{"parts":[{"text":"be brief"}]},"contents":[` + msgs + `]}`
	}
	first := ""
	for i := 0; i < 5; i++ {
		n := len(h.sink.all())
		if resp, b := h.do("POST", "/gemini/v1beta/models/gemini-3.5-flash:streamGenerateContent?alt=sse", turn(i), key); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		got := waitRecords(t, h.sink, n+1)[n].Account
		if first == "" {
			first = got
		} else if got != first {
			t.Fatalf("turn %d on %s, bound to %s", i, got, first)
		}
	}
	for _, path := range []string{
		"/gemini/v1beta/models/..:generateContent",
		"/gemini/v1beta/models/gemini%2F..%2F..%2Fx:generateContent",
		"/gemini/v1beta/models/a/b:generateContent",
		"/gemini/v1beta/models/gemini-3.5-flash:deleteEverything",
		"/gemini/v2/models/gemini-3.5-flash:generateContent",
	} {
		before := h.ups["g1"].Count() + h.ups["g2"].Count()
		resp, b := h.do("POST", path, turn(0), key)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(b, `"status":"NOT_FOUND"`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
		if h.ups["g1"].Count()+h.ups["g2"].Count() != before {
			t.Errorf("%s reached an upstream", path)
		}
	}
	// The client's key never goes upstream, even as a query parameter.
	h.do("POST", "/gemini/v1beta/models/gemini-3.5-flash:generateContent?key=local-key", turn(0), map[string]string{"x-api-key": "local-key"})
	for _, u := range []string{"g1", "g2"} {
		for _, r := range h.ups[u].Requests() {
			if strings.Contains(r.Query, "local-key") {
				t.Errorf("the client key went upstream: %q", r.Query)
			}
		}
	}
}

// A Google login answers Gemini calls through Code Assist: the request goes
// in its envelope with the account's project, the answer (each stream
// event) comes out of it, and the client sees the public API.
func TestGeminiCodeAssist(t *testing.T) {
	h := newHarness(t, []acct{{id: "google", prio: 100}}, nil)
	h.srv.SetAccounts([]pool.Account{{ID: "google", Kind: pool.KindGemini, Priority: 100, Enabled: true,
		APIURL: h.ups["google"].URL, Project: "my-project"}})
	ctx := context.Background()
	client, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: "local-key", Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.http.URL + "/gemini/"}})
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(inner string) string { return `{"response":` + inner + `,"traceId":"t1"}` }
	h.ups["google"].Push(relaytest.Reply{Body: wrap(relaytest.GeminiResponse("gemini-3.5-pro", "hi from code assist", 40, 0, 6))})
	res, err := client.Models.GenerateContent(ctx, "gemini-3.5-pro", genai.Text("hi"), nil)
	if err != nil || res.Text() != "hi from code assist" {
		t.Fatalf("generate: %v %v", res, err)
	}
	up := h.ups["google"].Requests()[0]
	if up.Path != "/v1internal:generateContent" || up.Header.Get("Authorization") != "Bearer sk-ant-test-google" || up.Header.Get("X-Goog-Api-Key") != "" {
		t.Errorf("upstream saw %s %v", up.Path, up.Header)
	}
	var env struct {
		Model, Project string
		Request        struct{ Contents []any }
	}
	if err := json.Unmarshal(up.Body, &env); err != nil || env.Model != "gemini-3.5-pro" || env.Project != "my-project" || len(env.Request.Contents) != 1 {
		t.Errorf("envelope %s (%v)", up.Body, err)
	}

	var evs []string
	for _, e := range relaytest.GeminiStream("gemini-3.5-pro", []string{"x", "y"}, 12, 0) {
		evs = append(evs, "data: "+wrap(strings.TrimPrefix(e, "data: ")))
	}
	h.ups["google"].Push(relaytest.Reply{Events: evs})
	text := ""
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-3.5-pro", genai.Text("hi"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text += chunk.Text()
	}
	if text != "xy" {
		t.Errorf("stream text %q", text)
	}
	if up := h.ups["google"].Requests()[1]; up.Path != "/v1internal:streamGenerateContent" || up.Query != "alt=sse" {
		t.Errorf("stream upstream %s?%s", up.Path, up.Query)
	}
	recs := waitRecords(t, h.sink, 2)
	if recs[1].Usage != (relay.Usage{InputTokens: 12, OutputTokens: 2, RawInputTokens: 12}) {
		t.Errorf("stream usage %+v", recs[1].Usage)
	}
}

// streamGenerateContent without alt=sse streams a JSON array: each piece
// reaches the client as soon as the upstream sends it, and the usage of the
// last chunk is recorded.
func TestGeminiArrayStream(t *testing.T) {
	h := geminiHarness(t)
	chunks := []string{
		"[" + relaytest.GeminiResponse("gemini-3.5-flash", "a", 50, 20, 1),
		",\r\n" + relaytest.GeminiResponse("gemini-3.5-flash", "b", 50, 20, 2),
		",\r\n" + relaytest.GeminiResponse("gemini-3.5-flash", "c", 50, 20, 3) + "]",
	}
	step := make(chan struct{})
	h.ups["g1"].Push(relaytest.Reply{Chunks: chunks, Step: step})
	req, _ := http.NewRequest("POST", h.http.URL+"/gemini/v1beta/models/gemini-3.5-flash:streamGenerateContent",
		strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`))
	req.Header.Set("x-goog-api-key", "local-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reads := make(chan string)
	go func() {
		defer close(reads)
		buf := make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				reads <- string(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	got := ""
	for i := range chunks {
		for want := strings.Join(chunks[:i+1], ""); got != want; {
			select {
			case b, ok := <-reads:
				if !ok {
					t.Fatalf("answer ended after %q", got)
				}
				got += b
			case <-time.After(5 * time.Second):
				t.Fatalf("chunk %d did not reach the client before the next was sent (has %q)", i, got)
			}
		}
		if i < len(chunks)-1 {
			select {
			case step <- struct{}{}: // the upstream sends the next only now
			case <-time.After(5 * time.Second):
				t.Fatalf("upstream not waiting after chunk %d", i)
			}
		}
	}
	recs := waitRecords(t, h.sink, 1)
	want := relay.Usage{InputTokens: 30, CacheReadTokens: 20, OutputTokens: 3, RawInputTokens: 50}
	if r := recs[0]; r.Usage != want || !r.Stream {
		t.Errorf("record = %+v, want usage %+v", r, want)
	}
}
