package relay_test

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
	"keypool/relay/runway"
)

// planReply is an answer carrying Claude subscription windows: 5h at u5,
// resetting at r5, and 7d at 10%.
func planReply(u5 float64, r5 time.Time) relaytest.Reply {
	return relaytest.Reply{Header: map[string]string{
		"anthropic-ratelimit-unified-status":         "allowed",
		"anthropic-ratelimit-unified-5h-utilization": strconv.FormatFloat(u5, 'f', 3, 64),
		"anthropic-ratelimit-unified-5h-reset":       strconv.FormatInt(r5.Unix(), 10),
		"anthropic-ratelimit-unified-5h-status":      "allowed",
		"anthropic-ratelimit-unified-7d-utilization": "0.10",
		"anthropic-ratelimit-unified-7d-reset":       strconv.FormatInt(r5.Add(96*time.Hour).Unix(), 10),
	}, Body: relaytest.Message("claude-sonnet-4-5", "hi", 10, 5)}
}

func subscriptions(c *relay.Config) {
	for i := range c.Accounts {
		c.Accounts[i].Kind = pool.KindClaudeOAuth
	}
}

// burn sends one request every ten minutes for an hour (seven in all),
// each answered by account id with its 5h window 5% fuller than the last,
// from 20%; the window resets four hours after the first.
func burn(t *testing.T, h *harness, id string, hdr map[string]string) {
	t.Helper()
	reset := h.clock.Now().Add(4 * time.Hour)
	for i := range 7 {
		if i > 0 {
			h.clock.Add(10 * time.Minute)
		}
		h.ups[id].Push(planReply(0.20+0.05*float64(i), reset))
		resp, b := h.post(body("claude-sonnet-4-5", fmt.Sprintf("task %d", i)), hdr)
		if resp.StatusCode != 200 || resp.Header.Get(relay.HeaderAccount) != id {
			t.Fatalf("request %d: %d from %q: %s", i, resp.StatusCode, resp.Header.Get(relay.HeaderAccount), b)
		}
	}
}

// The runway is learned from the plan headers of scripted answers on a
// fake clock, and reported in /health and /metrics; with no data it says so.
func TestRunwayForecast(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}}, subscriptions)
	t0 := h.clock.Now()
	if r := claudeRunway(t, h); r.State != runway.Unknown || r.Text != "no forecast yet" {
		t.Fatalf("pool runway before any answer = %+v, want unknown", r)
	}
	if r := h.account("a").Runway; r == nil || r.State != runway.Unknown {
		t.Fatalf("a's runway before any answer = %+v, want unknown", r)
	}
	burn(t, h, "a", nil)

	// 50% at 60 min, 30% an hour: the rest lasts 1 h 40 min, out at 160
	// min, before the reset at 240.
	want := t0.Add(160 * time.Minute)
	a := h.account("a").Runway
	if a.State != runway.RunsOut || a.Window != "5h" || math.Abs(a.RunsOut.Sub(want).Minutes()) > 2 {
		t.Fatalf("a's runway = %+v, want 5h out at %s ± 2 min", a.Forecast, want)
	}
	if len(a.Windows) != 2 || a.Windows[0].Window != "5h" || a.Windows[1].Forecast.State != runway.Lasts {
		t.Errorf("a's windows = %+v, want 5h running out and 7d lasting", a.Windows)
	}
	p := claudeRunway(t, h)
	if p.State != runway.RunsOut || !p.RunsOut.Equal(a.RunsOut) || !p.NextReset.Equal(t0.Add(4*time.Hour).Truncate(time.Second)) {
		t.Fatalf("pool runway = %+v, want a's run-out and its 5h reset", p)
	}
	if !strings.HasPrefix(p.Text, "≈1 h 40 min at this pace; first reset ") {
		t.Errorf("pool runway text = %q", p.Text)
	}

	resp, err := http.Get(h.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{`keypool_runway_seconds{account="a"} 6000`, `keypool_pool_runway_seconds{protocol="anthropic"} 6000`} {
		name, _, _ := strings.Cut(series, " ")
		line := lineOf(string(m), name)
		v, err := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
		if err != nil || math.Abs(v-6000) > 120 {
			t.Errorf("metrics %q, want %s ± 120", line, series)
		}
	}

	// An idle hour later the pace read over the last hour is nothing.
	h.clock.Add(70 * time.Minute)
	if r := claudeRunway(t, h); r.State != runway.Lasts || r.Text != "lasts at this pace" {
		t.Errorf("pool runway after an idle hour = %+v, want lasts", r)
	}
}

// claudeRunway is the pool's runway for Claude Code's protocol.
func claudeRunway(t *testing.T, h *harness) relay.PoolRunway {
	t.Helper()
	for _, r := range h.health().Runway {
		if r.Protocol == pool.ProtocolAnthropic {
			return r
		}
	}
	t.Fatalf("no runway for %s in %+v", pool.ProtocolAnthropic, h.health().Runway)
	return relay.PoolRunway{}
}

// lineOf returns the line of text that starts with prefix, or "".
func lineOf(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// With avoid_runout, a new conversation skips an account about to hit its
// wall for one that can serve it; a bound conversation stays.
func TestAvoidRunout(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}, {id: "b", prio: 50}}, func(c *relay.Config) {
		subscriptions(c)
		c.AvoidRunout = 2 * time.Hour
	})
	bound := map[string]string{"X-Claude-Code-Session-Id": "long-task"}
	burn(t, h, "a", bound) // a runs out in ≈1 h 40 min
	// /health says where a new conversation goes now, as the window and
	// the tray show it.
	if next := h.health().Next[pool.ProtocolAnthropic]; next != "b" {
		t.Errorf("/health next = %q, want b", next)
	}

	h.ups["a"].Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "a", 1, 1)})
	h.ups["b"].Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "b", 1, 1)})
	if resp, _ := h.post(body("claude-sonnet-4-5", "a new task"), nil); resp.Header.Get(relay.HeaderAccount) != "b" {
		t.Errorf("a new conversation went to %q, want b", resp.Header.Get(relay.HeaderAccount))
	}
	if resp, _ := h.post(body("claude-sonnet-4-5", "task 0"), bound); resp.Header.Get(relay.HeaderAccount) != "a" {
		t.Errorf("the bound conversation went to %q, want a", resp.Header.Get(relay.HeaderAccount))
	}
	// Without the setting, priority decides.
	h.srv.SetAvoidRunout(0)
	if next := h.health().Next[pool.ProtocolAnthropic]; next != "a" {
		t.Errorf("/health next with avoid_runout off = %q, want a", next)
	}
	h.ups["a"].Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "a", 1, 1)})
	if resp, _ := h.post(body("claude-sonnet-4-5", "another task"), nil); resp.Header.Get(relay.HeaderAccount) != "a" {
		t.Errorf("with avoid_runout off a new conversation went to %q, want a", resp.Header.Get(relay.HeaderAccount))
	}
}

// An API key's daily budget gives its runway: spent over the cap, at the
// pace of the recorded costs.
func TestBudgetRunway(t *testing.T) {
	h := newHarness(t, []acct{{id: "k", prio: 100}}, func(c *relay.Config) {
		c.Accounts[0].DailyBudgetUSD = 10
		c.Cost = func(string, relay.Usage, time.Time) (float64, bool) { return 0.5, true }
	})
	t0 := h.clock.Now()
	if r := h.account("k").Runway; r.State != runway.Unknown {
		t.Fatalf("k's runway before any spend = %+v, want unknown", r.Forecast)
	}
	for i := range 7 {
		if i > 0 {
			h.clock.Add(10 * time.Minute)
		}
		h.ups["k"].Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "hi", 10, 5)})
		h.post(body("claude-sonnet-4-5", fmt.Sprintf("task %d", i)), nil)
		waitRecords(t, h.sink, i+1)
	}
	// $0.50 every ten minutes: $3.50 at 60 min, $3 an hour from $0.50 at
	// t0; the other $6.50 last 2 h 10 min, before midnight.
	want := t0.Add(60*time.Minute + 130*time.Minute)
	r := h.account("k").Runway
	if r.State != runway.RunsOut || r.Window != runway.WindowDailyBudget || math.Abs(r.RunsOut.Sub(want).Minutes()) > 2 {
		t.Fatalf("k's runway = %+v, want the daily budget out at %s ± 2 min", r.Forecast, want)
	}
}

// A cooldown cleared by hand clears what the account last reported too: a
// used-up window no longer keeps it out of new conversations.
func TestResetForgetsTheRunway(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}}, subscriptions)
	h.ups["a"].Push(planReply(1.0, h.clock.Now().Add(time.Hour)))
	h.post(body("claude-sonnet-4-5", "fill it"), nil)
	if r := h.account("a").Runway; r.State != runway.Out {
		t.Fatalf("after a full window: %+v, want out", r.Forecast)
	}
	h.srv.ClearCooldowns("a")
	if r := h.account("a").Runway; r.State != runway.Unknown {
		t.Errorf("after a reset by hand: %+v, want no forecast", r.Forecast)
	}
}

// X-Keypool-Account names this relay's account even when the upstream (a
// Keypool in front of more accounts) sends its own.
func TestAccountHeaderIsOurs(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 100}}, nil)
	h.ups["a"].Push(relaytest.Reply{Header: map[string]string{relay.HeaderAccount: "theirs"}, Body: relaytest.Message("claude-sonnet-4-5", "hi", 1, 1)})
	resp, _ := h.post(body("claude-sonnet-4-5", "who"), nil)
	if got := resp.Header.Values(relay.HeaderAccount); len(got) != 1 || got[0] != "a" {
		t.Errorf("%s = %q, want only a", relay.HeaderAccount, got)
	}
}
