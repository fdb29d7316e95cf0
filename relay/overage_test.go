package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// overageHeaders are what a Claude subscription whose plan window is spent
// sends with each answer it serves on paid extra usage (PROTOCOLS.md §11):
// no -5h-* or -7d-* headers, the plan's reset at reset.
func overageHeaders(reset time.Time) map[string]string {
	r := strconv.FormatInt(reset.Unix(), 10)
	return map[string]string{
		"Anthropic-Ratelimit-Unified-Status":               "allowed",
		"Anthropic-Ratelimit-Unified-Representative-Claim": "overage",
		"Anthropic-Ratelimit-Unified-Overage-In-Use":       "true",
		"Anthropic-Ratelimit-Unified-Overage-Status":       "allowed",
		"Anthropic-Ratelimit-Unified-Overage-Utilization":  "0.12",
		"Anthropic-Ratelimit-Unified-Overage-Reset":        strconv.FormatInt(reset.Add(30*24*time.Hour).Unix(), 10),
		"Anthropic-Ratelimit-Unified-Reset":                r,
	}
}

// planHeaders are a subscription serving within its plan.
func planHeaders(reset time.Time) map[string]string {
	r := strconv.FormatInt(reset.Unix(), 10)
	return map[string]string{
		"Anthropic-Ratelimit-Unified-Status":               "allowed",
		"Anthropic-Ratelimit-Unified-Representative-Claim": "five_hour",
		"Anthropic-Ratelimit-Unified-5h-Status":            "allowed",
		"Anthropic-Ratelimit-Unified-5h-Utilization":       "0.30",
		"Anthropic-Ratelimit-Unified-5h-Reset":             r,
		"Anthropic-Ratelimit-Unified-Reset":                r,
	}
}

// spentReply is a subscription whose 5-hour window is spent and that has no
// extra usage to fall back on.
func spentReply(reset time.Time) relaytest.Reply {
	r := strconv.FormatInt(reset.Unix(), 10)
	return relaytest.Reply{Status: 429, Body: relaytest.Error("rate_limit_error", "rate limited"), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status":               "rejected",
		"Anthropic-Ratelimit-Unified-Representative-Claim": "five_hour",
		"Anthropic-Ratelimit-Unified-5h-Status":            "rejected",
		"Anthropic-Ratelimit-Unified-5h-Utilization":       "1.0",
		"Anthropic-Ratelimit-Unified-5h-Reset":             r,
		"Anthropic-Ratelimit-Unified-Reset":                r,
		"Retry-After":                                      strconv.Itoa(int(time.Until(reset).Seconds())),
	}}
}

// claudePlans makes the harness's accounts Claude subscriptions, except
// those named in apiKeys; allow lets the named ones use extra usage.
func claudePlans(apiKeys []string, allow ...string) func(*relay.Config) {
	return func(c *relay.Config) {
		for i := range c.Accounts {
			a := &c.Accounts[i]
			a.Kind = pool.KindClaudeOAuth
			for _, k := range apiKeys {
				if a.ID == k {
					a.Kind = pool.KindClaudeAPI
				}
			}
			for _, id := range allow {
				a.AllowOverage = a.AllowOverage || a.ID == id
			}
		}
	}
}

func overageReply(reset time.Time) relaytest.Reply {
	return relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "paid", 5, 5), Header: overageHeaders(reset)}
}

// An account found answering on paid extra usage is left before its answer
// reaches the client, for a subscription with quota left or for an API key:
// both a new conversation and the one bound to it move, and it gets no
// further request until its plan resets.
func TestOverageLeavesForPlanOrKey(t *testing.T) {
	for _, spare := range []struct {
		name    string
		apiKeys []string
	}{{"subscription_with_quota", nil}, {"api_key", []string{"b"}}} {
		t.Run(spare.name, func(t *testing.T) {
			h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, claudePlans(spare.apiKeys))
			reset := h.clock.Now().Add(3 * time.Hour)
			h.ups["b"].Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "plan", 5, 5), Header: planHeaders(reset)}
			sess := map[string]string{"X-Claude-Code-Session-Id": "aaaaaaaa-0000-0000-0000-000000000001"}

			// The conversation starts on a, within its plan.
			h.ups["a"].Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "plan", 5, 5), Header: planHeaders(reset)})
			if got := h.postAndWho(body("claude-sonnet-4-5", "bound"), sess); got != "a" {
				t.Fatalf("first turn served by %q, want a", got)
			}
			// Its plan runs out: a answers on paid extra usage from now on.
			h.ups["a"].Default = overageReply(reset)

			// The bound conversation's next turn: a's paid answer is dropped
			// before the client sees it, and b serves.
			resp, b := h.post(body("claude-sonnet-4-5", "bound"), sess)
			if resp.StatusCode != 200 || !strings.Contains(b, `"plan"`) || resp.Header.Get(relay.HeaderAccount) != "b" {
				t.Fatalf("bound turn: %d from %q: %s", resp.StatusCode, resp.Header.Get(relay.HeaderAccount), b)
			}
			if n := h.ups["a"].Count(); n != 2 {
				t.Fatalf("a got %d requests, want 2", n)
			}
			// A new conversation and the moved one: straight to b.
			for _, hdr := range []map[string]string{sess, {"X-Claude-Code-Session-Id": "aaaaaaaa-0000-0000-0000-000000000002"}} {
				if got := h.postAndWho(body("claude-sonnet-4-5", "x"), hdr); got != "b" {
					t.Errorf("served by %q, want b", got)
				}
			}
			if n := h.ups["a"].Count(); n != 2 {
				t.Errorf("a got %d requests after it was found on extra usage, want none", n-2)
			}
			acc := h.account("a")
			if acc.State != "overage" || acc.Overage == nil || !acc.Overage.InUse || !acc.Overage.Until.Equal(reset) {
				t.Errorf("a in /health: state %q, overage %+v", acc.State, acc.Overage)
			}
			if txt := acc.Overage.Text(h.clock.Now(), time.UTC); txt != "on extra usage (paid) until 15:00" {
				t.Errorf("text = %q", txt)
			}
			// After the reset a is tried again.
			h.clock.Add(3*time.Hour + time.Second)
			h.ups["a"].Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "plan", 5, 5), Header: planHeaders(reset.Add(5 * time.Hour))}
			if got := h.postAndWho(body("claude-sonnet-4-5", "new"), map[string]string{"X-Claude-Code-Session-Id": "aaaaaaaa-0000-0000-0000-000000000003"}); got != "a" {
				t.Errorf("after the reset served by %q, want a", got)
			}
			if acc := h.account("a"); acc.State != "ready" || acc.Overage != nil {
				t.Errorf("a after the reset: state %q, overage %+v", acc.State, acc.Overage)
			}
		})
	}
}

// With every plan spent and extra usage not allowed, the client gets an
// honest 429 shaped as a spent subscription's, with the first reset, and the
// account on extra usage gets no request once it is known.
func TestOverageNotAllowedEveryPlanSpent(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, claudePlans(nil))
	aReset := h.clock.Now().Add(2 * time.Hour)
	bReset := h.clock.Now().Add(4 * time.Hour)
	h.ups["a"].Default = overageReply(aReset)
	h.ups["b"].Default = spentReply(bReset)
	client := anthropic.NewClient(option.WithBaseURL(h.http.URL), option.WithAuthToken("local-key"), option.WithMaxRetries(0))
	params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}

	for round := 1; round <= 2; round++ {
		_, err := client.Messages.New(context.Background(), params)
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("round %d: err = %v, want an API error", round, err)
		}
		hd := apiErr.Response.Header
		if apiErr.StatusCode != 429 || !strings.Contains(apiErr.RawJSON(), "rate_limit_error") {
			t.Fatalf("round %d: %d %s", round, apiErr.StatusCode, apiErr.RawJSON())
		}
		reset, _ := strconv.ParseInt(hd.Get("Anthropic-Ratelimit-Unified-Reset"), 10, 64)
		if hd.Get("Anthropic-Ratelimit-Unified-Status") != "rejected" || hd.Get("Anthropic-Ratelimit-Unified-Representative-Claim") != "five_hour" ||
			time.Unix(reset, 0).Before(aReset) || time.Unix(reset, 0).After(aReset.Add(time.Minute)) || hd.Get("Retry-After") == "" {
			t.Errorf("round %d: headers %v, want rejected, five_hour, reset near %d, retry-after", round, hd, aReset.Unix())
		}
		if n := h.ups["a"].Count(); n != 1 {
			t.Errorf("round %d: the account on extra usage got %d requests, want only the one that showed it", round, n)
		}
	}
	// Reset by hand: a spent plan stays spent, so it still rests.
	h.srv.ClearCooldowns("a")
	if resp, _ := h.post(simple, nil); resp.StatusCode != 429 || h.ups["a"].Count() != 1 {
		t.Errorf("after a reset: %d, a asked %d times, want 429 and still once", resp.StatusCode, h.ups["a"].Count())
	}
	for _, r := range h.sink.all() {
		if r.Status == 200 {
			t.Errorf("a paid answer was served: %+v", r)
		}
	}
}

// An account allowed to use extra usage serves on it, but only after every
// account that can serve within its plan.
func TestOverageAllowed(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, claudePlans(nil, "a"))
	reset := h.clock.Now().Add(2 * time.Hour)
	h.ups["a"].Default = overageReply(reset)
	h.ups["b"].Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "plan", 5, 5), Header: planHeaders(reset)}

	// The first answer shows a on extra usage; a may serve on it.
	if got := h.postAndWho(simple, nil); got != "a" {
		t.Fatalf("served by %q, want a", got)
	}
	// From then on a plan with room comes first, whatever the priority.
	if got := h.postAndWho(body("claude-sonnet-4-5", "next"), nil); got != "b" {
		t.Errorf("with b's plan open, served by %q, want b", got)
	}
	// b's plan spent too: a serves, billed.
	h.ups["b"].Default = spentReply(h.clock.Now().Add(4 * time.Hour))
	if got := h.postAndWho(body("claude-sonnet-4-5", "more"), nil); got != "a" {
		t.Errorf("with every plan spent, served by %q, want a (allowed)", got)
	}
	if acc := h.account("a"); acc.State != "overage" || !acc.AllowOverage {
		t.Errorf("a: state %q allow %v", acc.State, acc.AllowOverage)
	}
	if hl := h.health(); hl.Status == "unavailable" {
		t.Errorf("health %q although a serves", hl.Status)
	}
	// Turning the permission off rests a until its plan resets.
	h.srv.SetAccounts([]pool.Account{
		{ID: "a", Name: "a", Kind: pool.KindClaudeOAuth, Priority: 100, Enabled: true, APIURL: h.ups["a"].URL},
		{ID: "b", Name: "b", Kind: pool.KindClaudeOAuth, Priority: 50, Enabled: true, APIURL: h.ups["b"].URL},
	})
	n := h.ups["a"].Count()
	resp, _ := h.post(body("claude-sonnet-4-5", "after"), nil)
	if resp.StatusCode != 429 || h.ups["a"].Count() != n {
		t.Errorf("with allow_overage off: status %d, a got %d more requests", resp.StatusCode, h.ups["a"].Count()-n)
	}
}

// Credit included in the plan (a claim ending in _overage_included) is not
// paid overage: the account serves as usual.
func TestOverageIncludedIsNotPaid(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, claudePlans(nil))
	reset := strconv.FormatInt(h.clock.Now().Add(time.Hour).Unix(), 10)
	h.ups["a"].Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "included", 5, 5), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status":               "allowed",
		"Anthropic-Ratelimit-Unified-Representative-Claim": "seven_day_overage_included",
		"Anthropic-Ratelimit-Unified-7d_oi-Status":         "allowed",
		"Anthropic-Ratelimit-Unified-7d_oi-Utilization":    "0.4",
		"Anthropic-Ratelimit-Unified-Overage-Status":       "allowed",
		"Anthropic-Ratelimit-Unified-Reset":                reset,
	}}
	for range 2 {
		if got := h.postAndWho(simple, nil); got != "a" {
			t.Fatalf("served by %q, want a", got)
		}
	}
	if acc := h.account("a"); acc.State != "ready" || acc.Overage != nil {
		t.Errorf("a: state %q overage %+v", acc.State, acc.Overage)
	}
}

// "You're out of extra usage" in a 400 is about the account: the next one
// serves, and the account rests until its plan resets.
func TestOutOfExtraUsageLeavesAccount(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, claudePlans(nil))
	reset := h.clock.Now().Add(90 * time.Minute)
	h.ups["a"].Default = relaytest.Reply{Status: 400,
		Body: relaytest.Error("invalid_request_error", "You're out of extra usage. Add more at claude.ai/settings/usage and keep going."),
		Header: map[string]string{
			"Anthropic-Ratelimit-Unified-Status":                  "rejected",
			"Anthropic-Ratelimit-Unified-Overage-Status":          "rejected",
			"Anthropic-Ratelimit-Unified-Overage-Disabled-Reason": "out_of_credits",
			"Anthropic-Ratelimit-Unified-Reset":                   strconv.FormatInt(reset.Unix(), 10),
		}}
	if got := h.postAndWho(simple, nil); got != "b" {
		t.Fatalf("served by %q, want b", got)
	}
	acc := h.account("a")
	if len(acc.Cooldowns) != 1 || acc.Cooldowns[0].Reason != "quota" || !acc.Cooldowns[0].Until.Equal(reset) {
		t.Errorf("a's cooldowns = %+v, want quota until %v", acc.Cooldowns, reset)
	}
	if acc.Overage == nil || acc.Overage.Status != "rejected" || acc.Overage.DisabledReason != "out_of_credits" {
		t.Errorf("a's overage = %+v", acc.Overage)
	}
}

// /metrics says which account is on paid extra usage, and how much of the
// allowance is spent.
func TestOverageMetrics(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}}, claudePlans(nil, "a"))
	h.ups["a"].Default = overageReply(h.clock.Now().Add(time.Hour))
	h.postAndWho(simple, nil)
	resp, err := http.Get(h.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`keypool_overage_in_use{account="a"} 1`, `keypool_overage_utilization{account="a"} 0.12`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// When every account rests on a limit, Codex gets usage_limit_reached with
// the reset in its own fields, and Gemini CLI RESOURCE_EXHAUSTED with a
// retry delay.
func TestSpentPoolInEachClientsWords(t *testing.T) {
	t.Run("codex", func(t *testing.T) {
		h := newHarness(t, []acct{{id: "o", prio: 1}}, func(c *relay.Config) { c.Accounts[0].Kind = pool.KindCodexOAuth })
		h.ups["o"].Default = relaytest.Reply{Status: 429,
			Body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_in_seconds":600}}`}
		resp, b := h.do("POST", "/openai/v1/responses", `{"model":"gpt-5","input":"hi"}`, map[string]string{"Authorization": "Bearer local-key"})
		var e struct {
			Error struct {
				Type            string
				ResetsAt        int64 `json:"resets_at"`
				ResetsInSeconds int64 `json:"resets_in_seconds"`
			}
		}
		json.Unmarshal([]byte(b), &e)
		back := time.Unix(e.Error.ResetsAt, 0).Sub(h.clock.Now())
		if resp.StatusCode != 429 || e.Error.Type != "usage_limit_reached" || back < 600*time.Second || back > 611*time.Second ||
			e.Error.ResetsInSeconds < 600 || e.Error.ResetsInSeconds > 611 || resp.Header.Get("Retry-After") != strconv.FormatInt(e.Error.ResetsInSeconds, 10) {
			t.Errorf("%d %v %s", resp.StatusCode, resp.Header, b)
		}
	})
	t.Run("gemini", func(t *testing.T) {
		h := newHarness(t, []acct{{id: "g", prio: 1}}, func(c *relay.Config) { c.Accounts[0].Kind = pool.KindGeminiAPI })
		h.ups["g"].Default = relaytest.Reply{Status: 429, Body: relaytest.GoogleError(429, "RESOURCE_EXHAUSTED", "slow down"),
			Header: map[string]string{"Retry-After": "45"}}
		resp, b := h.do("POST", "/gemini/v1beta/models/gemini-2.5-pro:generateContent", `{"contents":[]}`, map[string]string{"X-Goog-Api-Key": "local-key"})
		if resp.StatusCode != 429 || !strings.Contains(b, `"status":"RESOURCE_EXHAUSTED"`) || !strings.Contains(b, `"retryDelay":"45s"`) {
			t.Errorf("%d %s", resp.StatusCode, b)
		}
	})
}
