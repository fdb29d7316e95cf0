package relay_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"keypool/relay"
	"keypool/relay/pool"
)

// A paid key's daily budget, crossed mid-day, rests it until midnight; the
// subscription-first order spills over to the next account. A client key's
// daily cap refuses it, in its own format, until midnight.
func TestBudgets(t *testing.T) {
	h := newHarness(t, []acct{{id: "paid", prio: 10}, {id: "spill", prio: 1}}, func(c *relay.Config) {
		c.Cost = func(string, relay.Usage, time.Time) (float64, bool) { return 0.4, true }
	})
	h.srv.SetAccounts([]pool.Account{
		{ID: "paid", Kind: pool.KindClaudeAPI, Priority: 10, Enabled: true, APIURL: h.ups["paid"].URL, DailyBudgetUSD: 1},
		{ID: "spill", Kind: pool.KindClaudeAPI, Priority: 1, Enabled: true, APIURL: h.ups["spill"].URL},
	})
	for i := 0; i < 4; i++ {
		n := len(h.sink.all())
		h.post(body("claude-sonnet-4-5", "q"+string(rune('a'+i))), nil)
		waitRecords(t, h.sink, n+1)
	}
	// 0.4 + 0.4 + 0.4 crosses $1 on the third request; the fourth spills.
	if c := h.counts(); c["paid"] != 3 || c["spill"] != 1 {
		t.Fatalf("counts = %v", c)
	}
	a := h.account("paid")
	if b := a.Budget; b == nil || b.DailyUSD != 1 || b.SpentTodayUSD < 1.19 || b.SpentTodayUSD > 1.21 || b.SpentMonthUSD < 1.19 {
		t.Errorf("health budget = %+v, want $1/day with $1.20 spent", a.Budget)
	}
	if h.account("spill").Budget != nil {
		t.Error("an account without a cap shows a budget")
	}
	midnight := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	if len(a.Cooldowns) != 1 || a.Cooldowns[0].Reason != "budget" || !a.Cooldowns[0].Until.Equal(midnight) {
		t.Errorf("cooldowns = %+v", a.Cooldowns)
	}
	// The next day the budget is fresh.
	h.clock.Add(13 * time.Hour)
	h.post(body("claude-sonnet-4-5", "next day"), nil)
	if c := h.counts(); c["paid"] != 4 {
		t.Errorf("next day: counts = %v", c)
	}
}

func TestClientBudget(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) {
		c.Cost = func(string, relay.Usage, time.Time) (float64, bool) { return 0.3, true }
		c.ClientDailyBudgetUSD = map[string]float64{guardKeyID("local-key"): 0.5}
	})
	for i := 0; i < 2; i++ {
		n := len(h.sink.all())
		if resp, _ := h.post(body("claude-sonnet-4-5", "c"+string(rune('a'+i))), nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		waitRecords(t, h.sink, n+1)
	}
	resp, b := h.post(body("claude-sonnet-4-5", "over"), nil)
	if resp.StatusCode != http.StatusTooManyRequests || errorType(t, b) != "rate_limit_error" || !strings.Contains(b, "daily budget") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over budget: %d %s", resp.StatusCode, b)
	}
	if h.ups["a"].Count() != 2 {
		t.Errorf("a refused request reached the upstream")
	}
}

// Spend so far, given at start, counts against the budget.
func TestSpendAtStart(t *testing.T) {
	h := newHarness(t, []acct{{id: "paid", prio: 10}, {id: "spill", prio: 1}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "paid", Kind: pool.KindClaudeAPI, Priority: 10, Enabled: true, APIURL: h.ups["paid"].URL, MonthlyBudgetUSD: 20},
		{ID: "spill", Kind: pool.KindClaudeAPI, Priority: 1, Enabled: true, APIURL: h.ups["spill"].URL},
	})
	h.srv.SetSpend("paid", h.clock.Now(), 1, 25)
	h.post(simple, nil)
	if c := h.counts(); c["paid"] != 0 || c["spill"] != 1 {
		t.Errorf("counts = %v", c)
	}
	if a := h.account("paid"); len(a.Cooldowns) != 1 || !a.Cooldowns[0].Until.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("cooldowns = %+v", a.Cooldowns)
	}
}
