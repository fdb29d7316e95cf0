package relay_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// Bad requests get a clear error in Anthropic's format and never reach an
// upstream.
func TestBadInput(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) { c.MaxBodyBytes = 1024 })
	tests := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"malformed_json", "POST", "/v1/messages", `{"model":`, 400, "not valid JSON"},
		{"missing_model", "POST", "/v1/messages", `{"max_tokens":1,"messages":[]}`, 400, "model"},
		{"invalid_utf8", "POST", "/v1/messages", "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi \xff\xfe\"}]}", 400, "UTF-8"},
		{"invalid_utf8_in_model", "POST", "/v1/messages", "{\"model\":\"claude\xc0\xaf\"}", 400, "UTF-8"},
		{"wrong_type", "POST", "/v1/messages", `{"model":7}`, 400, "wrong type"},
		{"too_large", "POST", "/v1/messages", `{"model":"x","pad":"` + strings.Repeat("a", 2000) + `"}`, 413, "max_body_bytes"},
		{"unknown_route", "POST", "/v2/nothing", `{}`, 404, "no route"},
		{"wrong_method", "GET", "/v1/messages", ``, 405, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := h.do(tt.method, tt.path, tt.body, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			errorType(t, b)
			if !strings.Contains(b, tt.msg) {
				t.Errorf("message %s lacks %q", b, tt.msg)
			}
		})
	}
	if n := h.ups["a"].Count(); n != 0 {
		t.Errorf("%d bad requests reached the upstream", n)
	}
}

// Claude-compatible third parties take the key as a bearer token; the
// client's anthropic-beta, version and other headers pass through unchanged.
func TestHeadersForwarded(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	h.srv.SetAccounts([]pool.Account{{ID: "a", Kind: pool.KindClaudeAPI, Enabled: true, Priority: 1,
		APIURL: h.ups["a"].URL + "/mirror/api", AuthHeader: pool.AuthBearer}})
	resp, _ := h.post(simple, map[string]string{
		"anthropic-beta":           "claude-code-20250219,interleaved-thinking-2025-05-14",
		"X-Claude-Code-Session-Id": "aaaa-bbbb",
		"X-Stainless-Lang":         "js",
		"Connection":               "keep-alive, X-Hop",
		"X-Hop":                    "drop me",
	})
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	got := h.ups["a"].Requests()[0]
	checks := map[string]string{
		"Authorization":            "Bearer sk-ant-test-a",
		"X-Api-Key":                "",
		"Anthropic-Beta":           "claude-code-20250219,interleaved-thinking-2025-05-14",
		"Anthropic-Version":        "2023-06-01",
		"X-Claude-Code-Session-Id": "aaaa-bbbb",
		"X-Stainless-Lang":         "js",
		"X-Hop":                    "",
	}
	for k, want := range checks {
		if v := got.Header.Get(k); v != want {
			t.Errorf("upstream %s = %q, want %q", k, v, want)
		}
	}
	if got.Path != "/mirror/api/v1/messages" {
		t.Errorf("path = %s", got.Path)
	}
	if string(got.Body) != simple {
		t.Errorf("body altered: %s", got.Body)
	}
}

func TestModelsAndAliases(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	list := `{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],"has_more":false,"first_id":"claude-sonnet-4-5","last_id":"claude-sonnet-4-5"}`
	h.ups["a"].Push(relaytest.Reply{Body: list})
	resp, b := h.do("GET", "/v1/models?limit=1000", "", nil)
	if resp.StatusCode != 200 || b != list {
		t.Fatalf("models: %d %s", resp.StatusCode, b)
	}
	if q := h.ups["a"].Requests()[0].Query; q != "limit=1000" {
		t.Errorf("query = %q", q)
	}
	for _, p := range []string{"/api/v1/messages", "/claude/v1/messages"} {
		if resp, b := h.do("POST", p, simple, nil); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
	// Claude Code probes the base URL with HEAD; any answer is fine.
	if resp, _ := h.do("HEAD", "/", "", nil); resp.StatusCode != 404 {
		t.Errorf("HEAD / = %d", resp.StatusCode)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}, {id: "b", prio: 0}}, func(c *relay.Config) {
		c.Today = func() map[string]relay.DayStats {
			return map[string]relay.DayStats{"a": {Counts: relay.Counts{Requests: 3}, Usage: relay.Usage{InputTokens: 7}}}
		}
		c.Version = "1.4.0-3-g1a2b3c4"
	})
	h.srv.SetAccounts(append(accountsOf(h), pool.Account{ID: "g", Kind: pool.Kind("from-a-later-version"), Enabled: true}))
	h.ups["a"].Push(relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "bad key")})
	h.post(simple, nil)
	waitRecords(t, h.sink, 1)
	resp, b := h.do("GET", "/health", "", map[string]string{"x-api-key": ""})
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	var hl relay.Health
	if err := json.Unmarshal([]byte(b), &hl); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, a := range hl.Accounts {
		states[a.ID] = string(a.State)
	}
	if hl.Version != "1.4.0-3-g1a2b3c4" {
		t.Errorf("health version = %q, want the build's 1.4.0-3-g1a2b3c4", hl.Version)
	}
	if hl.Status != "degraded" || states["a"] != "unavailable" || states["b"] != "ready" || states["g"] != "not_supported" {
		t.Errorf("health = %s", b)
	}
	if hl.Accounts[0].Today == nil || hl.Accounts[0].Today.Requests != 3 {
		t.Errorf("today missing: %s", b)
	}
	if strings.Contains(b, "sk-ant") {
		t.Error("health shows a key")
	}
	_, m := h.do("GET", "/metrics", "", nil)
	for _, want := range []string{`keypool_requests_total{code="200",route="messages"} 1`, `keypool_failovers_total{account="a",reason="unavailable"} 1`, "keypool_accounts_ready 1", `keypool_tokens_total{account="b",kind="input"} 10`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	_ = http.StatusOK
}

func accountsOf(h *harness) []pool.Account {
	var out []pool.Account
	for _, a := range h.health().Accounts {
		out = append(out, pool.Account{ID: a.ID, Name: a.Name, Kind: pool.Kind(a.Type), Priority: a.Priority,
			Enabled: a.Enabled, APIURL: h.ups[a.ID].URL})
	}
	return out
}

// Header values with CR, LF or NUL never reach an upstream as extra headers.
// Go's HTTP server refuses the broken ones before the relay sees them (a
// plain "400 Bad Request" and a closed connection: no hook exists to answer
// in the client's format there); an obs-fold continuation is joined into one
// value and forwarded as that one value.
func TestHeaderInjection(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	tests := []struct {
		name, header string
		status       int
	}{
		{"bare_cr", "X-Stainless-Lang: js\rX-Injected: 1\r\n", 400},
		{"nul", "X-Stainless-Lang: js\x00X-Injected: 1\r\n", 400},
		{"crlf_in_name", "X-Stainless-Lang\r\n: X-Injected: 1\r\n", 400},
		{"obs_fold", "X-Stainless-Lang: js\r\n X-Injected: 1\r\n", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.ups["a"].Count()
			c, err := net.Dial("tcp", strings.TrimPrefix(h.http.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: local-key\r\n"+
				"Anthropic-Version: 2023-06-01\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s",
				tt.header, len(simple), simple)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			reqs := h.ups["a"].Requests()
			if tt.status != 200 {
				if len(reqs) != before {
					t.Fatal("a refused request reached the upstream")
				}
			} else {
				got := reqs[len(reqs)-1].Header
				if v := got.Values("X-Stainless-Lang"); len(v) != 1 || v[0] != "js X-Injected: 1" {
					t.Errorf("upstream X-Stainless-Lang = %q", v)
				}
			}
			for _, r := range reqs {
				if r.Header.Get("X-Injected") != "" {
					t.Fatal("an injected header reached the upstream")
				}
			}
		})
	}
	// The relay keeps serving after the refusals.
	if resp, b := h.post(simple, nil); resp.StatusCode != 200 {
		t.Fatalf("after refusals: %d %s", resp.StatusCode, b)
	}
}

// The same refusals speak OpenAI's and Google's error formats on their routes.
func TestBadInputOtherProtocols(t *testing.T) {
	bad := map[string]string{
		"malformed_json": `{"model":`,
		"invalid_utf8":   "{\"model\":\"gpt-5.4\",\"input\":\"hi \xff\"}",
	}
	t.Run("openai", func(t *testing.T) {
		h := responsesHarness(t)
		for name, body := range bad {
			resp, b := h.do("POST", "/openai/v1/responses", body, nil)
			var e struct {
				Error struct{ Message, Type string } `json:"error"`
			}
			if resp.StatusCode != 400 || json.Unmarshal([]byte(b), &e) != nil || e.Error.Type != "invalid_request_error" || e.Error.Message == "" {
				t.Errorf("%s: %d %s", name, resp.StatusCode, b)
			}
		}
		for id, u := range h.ups {
			if u.Count() != 0 {
				t.Errorf("bad requests reached %s", id)
			}
		}
	})
	t.Run("gemini", func(t *testing.T) {
		h := geminiHarness(t)
		key := map[string]string{"x-api-key": "", "x-goog-api-key": "local-key"}
		for name, body := range map[string]string{
			"malformed_json": `{"contents":`,
			"invalid_utf8":   "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi \xc3\x28\"}]}]}",
		} {
			resp, b := h.do("POST", "/gemini/v1beta/models/gemini-3.5-flash:generateContent", body, key)
			var e struct {
				Error struct {
					Code            int
					Message, Status string
				} `json:"error"`
			}
			if resp.StatusCode != 400 || json.Unmarshal([]byte(b), &e) != nil || e.Error.Code != 400 || e.Error.Status != "INVALID_ARGUMENT" {
				t.Errorf("%s: %d %s", name, resp.StatusCode, b)
			}
		}
		for id, u := range h.ups {
			if u.Count() != 0 {
				t.Errorf("bad requests reached %s", id)
			}
		}
	})
}
