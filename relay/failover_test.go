package relay_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// TestFailoverTable drives each row of the failover table (docs/failover.md) through
// real HTTP: account "a" (preferred) answers as scripted, "b" is healthy.
func TestFailoverTable(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	reset := now.Add(3 * time.Hour)
	type want struct {
		status   int               // what the client gets
		servedB  bool              // b answered
		state    pool.AccountState // a's state afterwards
		family   string            // family of a's cooldown ("" none)
		reason   string
		until    time.Time
		sameBody bool // the client got a's body unchanged
	}
	tests := []struct {
		name  string
		reply relaytest.Reply
		model string
		want  want
	}{
		{"401_key_dead", relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "invalid x-api-key")}, "",
			want{status: 200, servedB: true, state: "unavailable", family: "all", reason: "unavailable", until: now.Add(time.Hour)}},
		{"402_credit_exhausted", relaytest.Reply{Status: 402, Body: relaytest.Error("billing_error", "credit balance too low")}, "",
			want{status: 200, servedB: true, state: "unavailable", family: "all", reason: "unavailable", until: now.Add(time.Hour)}},
		{"403_forbidden", relaytest.Reply{Status: 403, Body: relaytest.Error("permission_error", "organization disabled")}, "",
			want{status: 200, servedB: true, state: "unavailable", family: "all", reason: "unavailable", until: now.Add(time.Hour)}},
		{"429_throttle_retry_after", relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "30"},
			Body: relaytest.Error("rate_limit_error", "slow down")}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "rate_limited", until: now.Add(30 * time.Second)}},
		{"429_throttle_no_time_uses_default", relaytest.Reply{Status: 429, Body: relaytest.Error("rate_limit_error", "slow down")}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "rate_limited", until: now.Add(time.Minute)}},
		{"429_throttle_api_key_reset_header", relaytest.Reply{Status: 429, Header: map[string]string{
			"Anthropic-Ratelimit-Tokens-Remaining": "0",
			"Anthropic-Ratelimit-Tokens-Reset":     now.Add(45 * time.Second).Format(time.RFC3339)},
			Body: relaytest.Error("rate_limit_error", "tokens")}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "rate_limited", until: now.Add(45 * time.Second)}},
		{"429_quota_5h_cools_whole_account_until_reset", relaytest.Reply{Status: 429, Header: map[string]string{
			"Anthropic-Ratelimit-Unified-Status":               "rejected",
			"Anthropic-Ratelimit-Unified-5h-Status":            "rejected",
			"Anthropic-Ratelimit-Unified-5h-Reset":             strconv.FormatInt(reset.Unix(), 10),
			"Anthropic-Ratelimit-Unified-Representative-Claim": "five_hour"},
			Body: relaytest.Error("rate_limit_error", "usage limit")}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "quota", until: reset.Add(2 * time.Second)}},
		{"429_quota_weekly_opus_cools_family_only", relaytest.Reply{Status: 429, Header: map[string]string{
			"Anthropic-Ratelimit-Unified-Status":               "rejected",
			"Anthropic-Ratelimit-Unified-5h-Status":            "allowed",
			"Anthropic-Ratelimit-Unified-7d-Status":            "allowed",
			"Anthropic-Ratelimit-Unified-7d_oi-Status":         "rejected",
			"Anthropic-Ratelimit-Unified-7d_oi-Reset":          strconv.FormatInt(reset.Unix(), 10),
			"Anthropic-Ratelimit-Unified-Representative-Claim": "seven_day_opus"},
			Body: relaytest.Error("rate_limit_error", "weekly opus limit")}, "claude-opus-4-6",
			want{status: 200, servedB: true, state: "ready", family: "opus", reason: "quota", until: reset.Add(2 * time.Second)}},
		{"429_spend_limit_is_unavailable", relaytest.Reply{Status: 429,
			Body: `{"type":"error","error":{"type":"rate_limit_error","message":"spend limit","details":{"error_code":"enforced_spend_limit_reached"}}}`}, "",
			want{status: 200, servedB: true, state: "unavailable", family: "all", reason: "unavailable", until: now.Add(time.Hour)}},
		{"429_fast_mode_credits_passes_through", relaytest.Reply{Status: 429,
			Body: relaytest.Error("rate_limit_error", "Usage credits are required for fast mode")}, "",
			want{status: 429, state: "ready", sameBody: true}},
		{"529_overloaded", relaytest.Reply{Status: 529, Body: relaytest.Error("overloaded_error", "Overloaded")}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "overloaded", until: now.Add(10 * time.Second)}},
		{"500_api_error", relaytest.Reply{Status: 500, Body: relaytest.Error("api_error", "internal")}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "overloaded", until: now.Add(10 * time.Second)}},
		{"503_unavailable", relaytest.Reply{Status: 503, Body: "upstream connect error"}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "overloaded", until: now.Add(10 * time.Second)}},
		{"timeout_before_headers", relaytest.Reply{Hang: 2 * time.Second}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "timeout", until: now.Add(10 * time.Second)}},
		{"400_credit_balance_too_low_is_unavailable", relaytest.Reply{Status: 400,
			Body: relaytest.Error("invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.")}, "",
			want{status: 200, servedB: true, state: "unavailable", family: "all", reason: "unavailable", until: now.Add(time.Hour)}},
		{"400_organization_disabled_is_unavailable", relaytest.Reply{Status: 400,
			Body: relaytest.Error("invalid_request_error", "This organization has been disabled.")}, "",
			want{status: 200, servedB: true, state: "unavailable", family: "all", reason: "unavailable", until: now.Add(time.Hour)}},
		{"429_overall_rejected_without_windows_cools_account", relaytest.Reply{Status: 429, Header: map[string]string{
			"Anthropic-Ratelimit-Unified-Status": "rejected",
			"Anthropic-Ratelimit-Unified-Reset":  strconv.FormatInt(reset.Unix(), 10)},
			Body: relaytest.Error("rate_limit_error", "limit")}, "",
			want{status: 200, servedB: true, state: "cooling", family: "all", reason: "quota", until: reset.Add(2 * time.Second)}},
		{"gzip_error_body_still_classified", relaytest.Reply{Status: 429, Gzip: true,
			Body: `{"type":"error","error":{"type":"rate_limit_error","message":"spend limit","details":{"error_code":"enforced_spend_limit_reached"}}}`}, "",
			want{status: 200, servedB: true, state: "unavailable", family: "all", reason: "unavailable", until: now.Add(time.Hour)}},
		{"400_client_error_passes_through_no_cooldown", relaytest.Reply{Status: 400,
			Body: relaytest.Error("invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum")}, "",
			want{status: 400, state: "ready", sameBody: true}},
		{"404_passes_through", relaytest.Reply{Status: 404, Body: relaytest.Error("not_found_error", "model: nope")}, "",
			want{status: 404, state: "ready", sameBody: true}},
		{"413_passes_through", relaytest.Reply{Status: 413, Body: relaytest.Error("request_too_large", "too large")}, "",
			want{status: 413, state: "ready", sameBody: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, func(c *relay.Config) {
				c.IdleTimeout = 300 * time.Millisecond
				c.HeaderTimeout = 300 * time.Millisecond
			})
			h.ups["a"].Push(tt.reply)
			model := tt.model
			if model == "" {
				model = "claude-sonnet-4-5"
			}
			resp, got := h.post(body(model, tt.name), nil)
			if resp.StatusCode != tt.want.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.want.status, got)
			}
			if n := h.ups["b"].Count(); (n == 1) != tt.want.servedB {
				t.Errorf("b served %d requests, want served=%v", n, tt.want.servedB)
			}
			// The answer names the account it came from, passed through or
			// after a failover.
			if got, want := resp.Header.Get(relay.HeaderAccount), map[bool]string{true: "b", false: "a"}[tt.want.servedB]; got != want {
				t.Errorf("%s = %q, want %q", relay.HeaderAccount, got, want)
			}
			if tt.want.sameBody && got != tt.reply.Body {
				t.Errorf("body = %q, want upstream's %q unchanged", got, tt.reply.Body)
			}
			a := h.account("a")
			if a.State != tt.want.state {
				t.Errorf("a state = %q, want %q (cooldowns %+v)", a.State, tt.want.state, a.Cooldowns)
			}
			if tt.want.family == "" {
				if len(a.Cooldowns) != 0 {
					t.Errorf("a cooldowns = %+v, want none", a.Cooldowns)
				}
				return
			}
			if len(a.Cooldowns) != 1 {
				t.Fatalf("a cooldowns = %+v, want one", a.Cooldowns)
			}
			cd := a.Cooldowns[0]
			if cd.Family != tt.want.family || cd.Reason != tt.want.reason || !endsAt(cd, tt.want.until) {
				t.Errorf("a cooldown = %+v, want family %s reason %s until %s", cd, tt.want.family, tt.want.reason, tt.want.until)
			}
			recs := waitRecords(t, h.sink, 1)
			if len(recs) != 1 || recs[0].Account != map[bool]string{true: "b", false: "a"}[tt.want.servedB] {
				t.Errorf("records = %+v", recs)
			}
			if tt.want.servedB && (len(recs[0].Failover) != 1 || recs[0].Failover[0].Account != "a") {
				t.Errorf("failover path = %+v, want one step from a", recs[0].Failover)
			}
		})
	}
}

// A family-only cooldown leaves the account serving other models.
func TestFamilyCooldownKeepsOtherModels(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, nil)
	h.ups["a"].Push(relaytest.Reply{Status: 429, Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status":       "rejected",
		"Anthropic-Ratelimit-Unified-7d_oi-Status": "rejected",
		"Anthropic-Ratelimit-Unified-7d_oi-Reset":  strconv.FormatInt(h.clock.Now().Add(time.Hour).Unix(), 10)},
		Body: relaytest.Error("rate_limit_error", "opus weekly")})
	h.post(body("claude-opus-4-6", "x"), nil)
	if resp, _ := h.post(body("claude-opus-4-6", "y"), nil); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	if resp, _ := h.post(body("claude-sonnet-4-5", "z"), nil); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	// a: the failed opus request and the sonnet one; b: both opus ones.
	if got := h.counts(); got["a"] != 2 || got["b"] != 2 {
		t.Errorf("counts = %v, want a:2 b:2", got)
	}
}

func TestConnectErrorFailsOver(t *testing.T) {
	h := newHarness(t, []acct{{id: "dead", prio: 100, dead: true}, {id: "b", prio: 50}}, nil)
	resp, _ := h.post(simple, nil)
	if resp.StatusCode != 200 || h.ups["b"].Count() != 1 {
		t.Fatalf("status %d, b count %d", resp.StatusCode, h.ups["b"].Count())
	}
	if st := h.account("dead").State; st != "cooling" {
		t.Errorf("dead state = %s", st)
	}
}

// When every account is out, the client gets Anthropic's error format with
// the time the first one returns, and a retry-after header.
func TestAllAccountsOut(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, nil)
	h.ups["a"].Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "40"}, Body: relaytest.Error("rate_limit_error", "x")})
	h.ups["b"].Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "20"}, Body: relaytest.Error("rate_limit_error", "x")})
	resp, got := h.post(simple, nil)
	if resp.StatusCode != 429 {
		t.Fatalf("status = %d, want 429", resp.StatusCode)
	}
	if typ := errorType(t, got); typ != "rate_limit_error" {
		t.Errorf("error type = %s", typ)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "20" {
		t.Errorf("retry-after = %q, want 20", ra)
	}
	if want := "2026-11-26T12:00:20Z"; !strings.Contains(got, want) {
		t.Errorf("message %q lacks the return time %s", got, want)
	}
	// No hot loop: each account was asked once.
	if c := h.counts(); c["a"] != 1 || c["b"] != 1 {
		t.Errorf("upstream calls = %v", c)
	}
	// A later request while both cool does not reach any upstream.
	resp, _ = h.post(simple, nil)
	if resp.StatusCode != 429 || h.ups["a"].Count()+h.ups["b"].Count() != 2 {
		t.Errorf("second request: status %d, counts %v", resp.StatusCode, h.counts())
	}
	// Time passes: b is back first.
	h.clock.Add(21 * time.Second)
	if resp, _ := h.post(simple, nil); resp.StatusCode != 200 || h.ups["b"].Count() != 2 {
		t.Errorf("after cooldown: status %d, counts %v", resp.StatusCode, h.counts())
	}
}

func TestNoAccounts(t *testing.T) {
	h := newHarness(t, nil, nil)
	resp, got := h.post(simple, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || errorType(t, got) != "api_error" {
		t.Fatalf("status %d body %s", resp.StatusCode, got)
	}
}

// A throttle shorter than MaxThrottleWait is waited out rather than failed.
func TestShortThrottleIsWaitedOut(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}}, func(c *relay.Config) {
		c.Now = time.Now
		c.MaxThrottleWait = 2 * time.Second
	})
	h.ups["a"].Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After-Ms": "200"}, Body: relaytest.Error("rate_limit_error", "x")})
	resp, _ := h.post(simple, nil)
	if resp.StatusCode != 200 || h.ups["a"].Count() != 2 {
		t.Fatalf("status %d, calls %d; want 200 after a wait and a second call", resp.StatusCode, h.ups["a"].Count())
	}
}

// A non-streaming answer's headers come only when it is complete, so the
// relay waits longer for them than for a stream's.
func TestNonStreamingWaitsForHeaders(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, func(c *relay.Config) {
		c.IdleTimeout = 100 * time.Millisecond
		c.HeaderTimeout = 3 * time.Second
	})
	h.ups["a"].Push(relaytest.Reply{Hang: 400 * time.Millisecond})
	if resp, b := h.post(simple, nil); resp.StatusCode != 200 || h.ups["b"].Count() != 0 {
		t.Fatalf("slow non-streaming answer: %d %s, b called %d times", resp.StatusCode, b, h.ups["b"].Count())
	}
	h.ups["a"].Push(relaytest.Reply{Hang: 400 * time.Millisecond, Events: relaytest.Stream("m", nil, 1, 1, 0, 0)})
	resp, _ := h.post(`{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"x"}]}`, nil)
	if resp.StatusCode != 200 || h.ups["b"].Count() != 1 {
		t.Fatalf("stream without headers in the idle timeout: %d, b called %d times", resp.StatusCode, h.ups["b"].Count())
	}
}

// An account limited to some models never serves others, and a request no
// account may serve says so.
func TestAccountModelRules(t *testing.T) {
	h := newHarness(t, []acct{{id: "opus", prio: 100}, {id: "any", prio: 10}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "opus", Kind: pool.KindClaudeAPI, Priority: 100, Enabled: true, APIURL: h.ups["opus"].URL, Models: []string{"claude-opus-*"}},
		{ID: "any", Kind: pool.KindClaudeAPI, Priority: 10, Enabled: true, APIURL: h.ups["any"].URL, Models: []string{"claude-sonnet-*"}},
	})
	h.post(body("claude-opus-4-6", "a"), nil)
	h.post(body("claude-sonnet-4-5", "b"), nil)
	if c := h.counts(); c["opus"] != 1 || c["any"] != 1 {
		t.Errorf("counts = %v", c)
	}
	resp, b := h.post(body("claude-haiku-4-5", "c"), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || errorType(t, b) != "api_error" {
		t.Errorf("unserved model: %d %s", resp.StatusCode, b)
	}
}

// A storm: every account answers 429 and many clients keep asking. Each
// client gets a 429 with the earliest retry time, and the upstreams are not
// hammered: once an account has said 429, it is not asked again until its
// time, so the calls are bounded by the clients in flight at the first
// answer, whatever the number of requests.
func TestRateLimitStorm(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}, {id: "c", prio: 10}}, nil)
	for id, ra := range map[string]string{"a": "40", "b": "20", "c": "30"} {
		for range 1000 {
			h.ups[id].Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": ra}, Body: relaytest.Error("rate_limit_error", "slow down")})
		}
	}
	const clients, each = 32, 20
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				req, _ := http.NewRequest("POST", h.http.URL+"/v1/messages", strings.NewReader(simple))
				req.Header.Set("x-api-key", "local-key")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "20" || !strings.Contains(string(b), "2026-11-26T12:00:20Z") {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Errorf("%d of %d answers were not a 429 with the earliest retry time", n, clients*each)
	}
	c := h.counts()
	for id, n := range c {
		if n > clients {
			t.Errorf("account %s was called %d times for %d requests; want at most one per client in flight", id, n, clients*each)
		}
	}
	t.Logf("upstream calls for %d requests: %v", clients*each, c)
}

// quotaJitter is how much later than its reset time (plus the margin) a
// plan-quota cooldown may end: failover's jitter.
const quotaJitter = 8 * time.Second

// endsAt reports whether cooldown cd ends at until: exactly, or for a plan
// quota up to the jitter later.
func endsAt(cd relay.CooldownInfo, until time.Time) bool {
	if cd.Reason == string(pool.ReasonQuota) {
		return !cd.Until.Before(until) && cd.Until.Sub(until) < quotaJitter
	}
	return cd.Until.Equal(until)
}
