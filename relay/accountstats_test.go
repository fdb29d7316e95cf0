package relay_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// TestCountedOutcomes: every attempt is counted on the account it went to,
// with its error kind; the account rests for the real reason; a client
// whose request no account could take is told the real last cause; and the
// usage record names the account it last went to.
func TestCountedOutcomes(t *testing.T) {
	type count struct {
		id   string
		want relay.Counts
	}
	tests := []struct {
		name     string
		accts    []acct
		script   map[string]relaytest.Reply
		status   int      // what the client gets
		errType  string   // Anthropic error type, if an error
		msg      []string // what the client's error message says
		counts   []count
		cooldown map[string]string // account → reason of its cooldown
		account  string            // the record's account
		kind     relay.ErrorKind   // the record's error kind
		failover []string          // the record's failover path, "account kind"
	}{
		{
			name:     "connection_refused",
			accts:    []acct{{id: "work", prio: 100, dead: true}},
			status:   http.StatusBadGateway,
			errType:  "api_error",
			msg:      []string{"connection refused by account work", "every account is resting: the first is back at 2026-11-26T12:00:10Z"},
			counts:   []count{{"work", relay.Counts{Requests: 1, Errors: 1, Connection: 1}}},
			cooldown: map[string]string{"work": "connection"},
			account:  "work", kind: relay.ErrorConnection,
		},
		{
			name:     "timeout_before_headers",
			accts:    []acct{{id: "slow", prio: 100}},
			script:   map[string]relaytest.Reply{"slow": {Hang: 3 * time.Second}},
			status:   http.StatusGatewayTimeout,
			errType:  "api_error",
			msg:      []string{"no answer within 200ms by account slow"},
			counts:   []count{{"slow", relay.Counts{Requests: 1, Errors: 1, Timeout: 1}}},
			cooldown: map[string]string{"slow": "timeout"},
			account:  "slow", kind: relay.ErrorTimeout,
		},
		{
			name:  "429_then_503",
			accts: []acct{{id: "busy", prio: 100}, {id: "broken", prio: 50}},
			script: map[string]relaytest.Reply{
				"busy":   {Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: relaytest.Error("rate_limit_error", "slow down")},
				"broken": {Status: 503, Body: "upstream connect error"},
			},
			status:  529,
			errType: "overloaded_error",
			msg:     []string{"account busy: 429 throttled (retry-after); account broken: 503 upstream overloaded or failing"},
			counts: []count{
				{"busy", relay.Counts{Requests: 1, Errors: 1, RateLimited: 1}},
				{"broken", relay.Counts{Requests: 1, Errors: 1, Server: 1}},
			},
			cooldown: map[string]string{"busy": "rate_limited", "broken": "overloaded"},
			account:  "broken", kind: relay.ErrorServer,
			failover: []string{"busy 429"},
		},
		{
			name:     "refused_then_served",
			accts:    []acct{{id: "work", prio: 100, dead: true}, {id: "home", prio: 50}},
			status:   http.StatusOK,
			counts:   []count{{"work", relay.Counts{Requests: 1, Errors: 1, Connection: 1}}, {"home", relay.Counts{Requests: 1}}},
			cooldown: map[string]string{"work": "connection"},
			account:  "home",
			failover: []string{"work connection"},
		},
		{
			name:    "429_passed_through_counts",
			accts:   []acct{{id: "fast", prio: 100}, {id: "other", prio: 50}},
			script:  map[string]relaytest.Reply{"fast": {Status: 429, Body: relaytest.Error("rate_limit_error", "Usage credits are required for fast mode")}},
			status:  http.StatusTooManyRequests,
			counts:  []count{{"fast", relay.Counts{Requests: 1, Errors: 1, RateLimited: 1}}, {"other", relay.Counts{}}},
			account: "fast", kind: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.accts, func(c *relay.Config) {
				c.IdleTimeout = 200 * time.Millisecond
				c.HeaderTimeout = 200 * time.Millisecond
			})
			for id, r := range tt.script {
				h.ups[id].Push(r)
			}
			resp, got := h.post(simple, nil)
			t.Logf("client got %d %s", resp.StatusCode, got)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.status, got)
			}
			if tt.errType != "" {
				if typ := errorType(t, got); typ != tt.errType {
					t.Errorf("error type = %s, want %s", typ, tt.errType)
				}
			}
			for _, m := range tt.msg {
				if !strings.Contains(got, m) {
					t.Errorf("client's error %s\n lacks %q", got, m)
				}
			}
			if strings.Contains(got, "cooling down") {
				t.Errorf("client's error %s blames a cooldown for what this request met", got)
			}
			for _, c := range tt.counts {
				a := h.account(c.id)
				if a.Attempts != c.want {
					t.Errorf("%s attempts = %+v, want %+v", c.id, a.Attempts, c.want)
				}
				reason := tt.cooldown[c.id]
				switch {
				case reason == "" && len(a.Cooldowns) > 0:
					t.Errorf("%s cooldowns = %+v, want none", c.id, a.Cooldowns)
				case reason != "" && (len(a.Cooldowns) != 1 || a.Cooldowns[0].Reason != reason):
					t.Errorf("%s cooldowns = %+v, want one for %s", c.id, a.Cooldowns, reason)
				}
				if c.want.Errors > 0 && a.LastError == nil && reason != "" {
					t.Errorf("%s has no last error", c.id)
				}
			}
			recs := waitRecords(t, h.sink, 1)
			r := recs[0]
			if r.Account != tt.account || r.ErrorKind != tt.kind {
				t.Errorf("record account %q kind %q, want %q %q (record %+v)", r.Account, r.ErrorKind, tt.account, tt.kind, r)
			}
			var path []string
			for _, st := range r.Failover {
				path = append(path, st.Account+" "+string(st.Kind))
			}
			if strings.Join(path, ", ") != strings.Join(tt.failover, ", ") {
				t.Errorf("record failover = %v, want %v", path, tt.failover)
			}
			if tt.errType != "" && (r.Status != tt.status || r.Error == "") {
				t.Errorf("record status %d error %q, want %d and the reason", r.Status, r.Error, tt.status)
			}
		})
	}
}

// A request that finds every account already resting reaches none: its
// record has no account and says why, the accounts' counts do not move,
// and the client still learns the last real error.
func TestRestingAccountsNameTheLastError(t *testing.T) {
	h := newHarness(t, []acct{{id: "work", prio: 100, dead: true}}, nil)
	h.post(simple, nil)
	h.clock.Add(3 * time.Second)
	resp, got := h.post(simple, nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502; body %s", resp.StatusCode, got)
	}
	for _, m := range []string{"all accounts are cooling down", "(in 7s)", "last error 3s ago: connection refused by account work"} {
		if !strings.Contains(got, m) {
			t.Errorf("client's error %s\n lacks %q", got, m)
		}
	}
	if a := h.account("work").Attempts; a.Requests != 1 {
		t.Errorf("work attempts = %+v: the second request never reached it", a)
	}
	recs := waitRecords(t, h.sink, 2)
	if r := recs[1]; r.Account != "" || !strings.Contains(r.Error, "all accounts are cooling down") {
		t.Errorf("second record: account %q error %q; want none, and why", r.Account, r.Error)
	}
	if r := recs[0]; r.Account != "work" {
		t.Errorf("first record: account %q, want work", r.Account)
	}
}

// A request that reached no account at all says why in its record.
func TestRecordWithoutAccountSaysWhy(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.post(simple, nil)
	h.post(`{"model":`, nil)
	for _, r := range waitRecords(t, h.sink, 2) {
		if r.Account != "" || r.Error == "" || r.ErrorKind != "" {
			t.Errorf("record %+v: want no account, no kind, and a reason", r)
		}
	}
}

// Each client protocol gets the real cause in its own error format.
func TestUnreachableInEachProtocol(t *testing.T) {
	dead := relaytest.DeadAddr()
	tests := []struct {
		name, path, body string
		kind             pool.Kind
		message          func(b []byte) string
	}{
		{"responses", "/openai/v1/responses", `{"model":"gpt-5.4","input":"hi"}`, pool.KindOpenAIResponses, openAIMessage},
		{"chat", "/openai/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, pool.KindOpenAICompatible, openAIMessage},
		{"gemini", "/gemini/v1beta/models/gemini-2.5-pro:generateContent", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`, pool.KindGeminiAPI,
			func(b []byte) string {
				var e struct {
					Error struct{ Message, Status string }
				}
				if json.Unmarshal(b, &e) != nil || e.Error.Status == "" {
					return ""
				}
				return e.Error.Message
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			h.srv.SetAccounts([]pool.Account{{ID: "work", Kind: tt.kind, Priority: 1, Enabled: true, APIURL: dead}})
			resp, got := h.do("POST", tt.path, tt.body, nil)
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status = %d, want 502; body %s", resp.StatusCode, got)
			}
			if m := tt.message([]byte(got)); !strings.Contains(m, "connection refused by account work") {
				t.Errorf("error body %s: message %q does not name the cause", got, m)
			}
			if a := h.account("work"); a.Attempts.Connection != 1 || a.Cooldowns[0].Reason != "connection" {
				t.Errorf("work: attempts %+v cooldowns %+v", a.Attempts, a.Cooldowns)
			}
		})
	}
}

func openAIMessage(b []byte) string {
	var e struct {
		Error struct{ Message, Type string }
	}
	if json.Unmarshal(b, &e) != nil || e.Error.Type == "" {
		return ""
	}
	return e.Error.Message
}

// An answer that broke off after the client had its first byte is an error
// of the account's all the same: connection for a dropped connection,
// timeout for an upstream that went quiet.
func TestBrokenAnswerCounts(t *testing.T) {
	tests := []struct {
		name  string
		reply relaytest.Reply
		kind  relay.ErrorKind
		want  relay.Counts
	}{
		{"dropped", relaytest.Reply{Events: relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(6), 5, 6, 0, 0), Break: 3},
			relay.ErrorConnection, relay.Counts{Requests: 1, Errors: 1, Connection: 1}},
		{"went_quiet", relaytest.Reply{Events: relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(6), 5, 6, 0, 0), Step: relaytest.StallAfterFirstWord()},
			relay.ErrorTimeout, relay.Counts{Requests: 1, Errors: 1, Timeout: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) { c.IdleTimeout = 200 * time.Millisecond })
			h.ups["a"].Push(tt.reply)
			resp := streamReq(t, h, context.Background())
			io.ReadAll(resp.Body)
			resp.Body.Close()
			r := waitRecords(t, h.sink, 1)[0]
			if r.Account != "a" || r.ErrorKind != tt.kind {
				t.Errorf("record account %q kind %q, want a %q (%s)", r.Account, r.ErrorKind, tt.kind, r.Error)
			}
			if got := h.account("a").Attempts; got != tt.want {
				t.Errorf("attempts = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// An upstream whose certificate is not trusted is a connection error, and
// the client is told it was TLS.
func TestTLSFailureIsConnection(t *testing.T) {
	tlsUp := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsUp.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsUp.StartTLS()
	defer tlsUp.Close()
	h := newHarness(t, nil, nil)
	h.srv.SetAccounts([]pool.Account{{ID: "work", Kind: pool.KindClaudeAPI, Priority: 1, Enabled: true, APIURL: tlsUp.URL}})
	resp, got := h.post(simple, nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(got, "TLS certificate refused") || !strings.Contains(got, "by account work") {
		t.Fatalf("status %d, body %s; want 502 naming the TLS failure and the account", resp.StatusCode, got)
	}
	if a := h.account("work"); a.Attempts.Connection != 1 || a.Cooldowns[0].Reason != "connection" {
		t.Errorf("work: attempts %+v cooldowns %+v", a.Attempts, a.Cooldowns)
	}
}

// A client that leaves while the relay waits out a short throttle: the
// record still names the account the request went to.
func TestLeftWhileWaitingNamesTheAccount(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) { c.MaxThrottleWait = 2 * time.Second })
	h.ups["a"].Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "1"}, Body: relaytest.Error("rate_limit_error", "x")})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if resp, err := http.DefaultClient.Do(mustRequest(t, ctx, h)); err == nil {
		resp.Body.Close()
		t.Fatalf("client got %s; want it gone while the relay waited", resp.Status)
	}
	r := waitRecords(t, h.sink, 1)[0]
	if r.Account != "a" || r.ErrorKind != relay.ErrorRateLimit || r.Status != 499 || len(r.Failover) != 0 {
		t.Errorf("record = %+v; want account a, kind 429, status 499", r)
	}
	if got := h.account("a").Attempts; got != (relay.Counts{Requests: 1, Errors: 1, RateLimited: 1}) {
		t.Errorf("attempts = %+v", got)
	}
}

func mustRequest(t *testing.T, ctx context.Context, h *harness) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", h.http.URL+"/v1/messages", strings.NewReader(simple))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", "local-key")
	return req
}
