package relay

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"keypool/relay/pool"
	"keypool/relay/runway"
	"keypool/relay/sched"
	"keypool/relay/session"
)

// AccountRunway is an account's outlook in /health: when new work would
// hit its first wall at the recent pace, and each window's history.
type AccountRunway struct {
	runway.Forecast
	Text    string          `json:"text"`
	Windows []runway.Window `json:"windows,omitempty"`
}

// PoolRunway is when new work of one protocol (Claude Code's, Codex's…)
// could no longer be served by any account that serves it, at the recent
// pace, and when the first account or window comes back.
type PoolRunway struct {
	Protocol pool.Protocol `json:"protocol"`
	runway.Forecast
	// NextReset is the first time an account that is or will be out comes
	// back.
	NextReset time.Time `json:"next_reset,omitzero"`
	Text      string    `json:"text"`
}

// SetAvoidRunout makes a new conversation skip an account forecast to run
// out within d when another account can serve it (0: never).
func (s *Server) SetAvoidRunout(d time.Duration) { s.picker.SetAvoidRunout(d) }

// unlimited reports that no plan or budget is expected to limit the
// account (see sched.Candidate): a pay-per-token key without a cap, or a
// kind whose answers never report a plan's windows (a Google login).
func (e *entry) unlimited() bool {
	return e.acct.DailyBudgetUSD <= 0 && e.acct.MonthlyBudgetUSD <= 0 &&
		(e.up == nil || !e.up.IsOAuth() || e.up.PlanQuota == nil)
}

// candidate is e as the picker sees it.
func (e *entry) candidate() sched.Candidate {
	return sched.Candidate{Account: e.acct, State: e.state, Runway: e.runway, Unlimited: e.unlimited()}
}

// outlook is the account's runway for new work of any model at now: out
// while it rests (until the cooldown ends), else its windows' first wall.
func (e *entry) outlook(now time.Time) runway.Forecast {
	if cd, cooling := e.state.CoolingFor(now, pool.FamilyAll); cooling {
		return runway.Forecast{State: runway.Out, ResetsAt: cd.Until}
	}
	return e.candidate().Outlook(now, pool.FamilyAll)
}

// budgetWindows are an account's budgets as windows, so their spend pace
// forecasts like a plan's: spent/cap, resetting at midnight or the month's
// turn (local time of at).
func budgetWindows(a pool.Account, at time.Time, day, month float64) []pool.Quota {
	var out []pool.Quota
	y, m, _ := at.Date()
	if a.DailyBudgetUSD > 0 {
		out = append(out, pool.Quota{Window: runway.WindowDailyBudget, Utilization: day / a.DailyBudgetUSD,
			ResetsAt: nextMidnight(at)})
	}
	if a.MonthlyBudgetUSD > 0 {
		out = append(out, pool.Quota{Window: runway.WindowMonthlyBudget, Utilization: month / a.MonthlyBudgetUSD,
			ResetsAt: time.Date(y, m+1, 1, 0, 0, 0, 0, at.Location())})
	}
	return out
}

// accountRunway is e's outlook for /health.
func (e *entry) accountRunway(now time.Time) *AccountRunway {
	f := e.outlook(now)
	return &AccountRunway{Forecast: f, Text: f.Text(now, time.Local), Windows: e.runway.Windows(now)}
}

// poolRunways is the runway of each protocol some account serves, in
// pool.Protocols' order.
func poolRunways(now time.Time, set *accountSet) []PoolRunway {
	var out []PoolRunway
	for _, p := range pool.Protocols {
		if es := set.served[p]; len(es) > 0 {
			out = append(out, poolRunway(now, p, es))
		}
	}
	return out
}

// poolRunway combines the accounts that could serve new work of protocol p
// (enabled, not waiting for the user): the pool lasts if one of them does,
// or if one comes back before the last of the others runs out; otherwise
// it runs out when the last of them does.
func poolRunway(now time.Time, p pool.Protocol, es []*entry) PoolRunway {
	r := PoolRunway{Protocol: p}
	var last time.Time
	lasts, unknown, some := false, false, false
	for _, e := range es {
		if !e.acct.Enabled || e.acct.WaitsForUser() {
			continue
		}
		some = true
		o := e.outlook(now)
		switch o.State {
		case runway.Lasts:
			lasts = true
		case runway.Unknown:
			unknown = true
		case runway.RunsOut:
			if o.RunsOut.After(last) {
				last, r.Window = o.RunsOut, o.Window
			}
		}
		if (o.State == runway.Out || o.State == runway.RunsOut) && o.ResetsAt.After(now) &&
			(r.NextReset.IsZero() || o.ResetsAt.Before(r.NextReset)) {
			r.NextReset = o.ResetsAt
		}
	}
	switch {
	case lasts, !last.IsZero() && !r.NextReset.IsZero() && !r.NextReset.After(last):
		// Something serves on: an account that lasts, or one back before
		// the others are spent.
		r.State, r.Window, r.NextReset = runway.Lasts, "", time.Time{}
	case unknown || !some:
		r.State, r.Window = runway.Unknown, ""
	case !last.IsZero():
		r.State, r.RunsOut = runway.RunsOut, last
	default:
		r.State = runway.Out
	}
	r.Text = r.text(now, time.Local)
	return r
}

// text is the pool's runway in words: "≈3 h 10 min at this pace; first
// reset 14:05".
func (p PoolRunway) text(now time.Time, loc *time.Location) string {
	var s string
	switch p.State {
	case runway.RunsOut:
		s = "≈" + runway.Duration(p.RunsOut.Sub(now)) + " at this pace"
	case runway.Out:
		s = "no account can serve now"
	case runway.Lasts:
		return "lasts at this pace"
	default:
		if p.NextReset.IsZero() {
			return "no forecast yet"
		}
		s = "no forecast yet"
	}
	if !p.NextReset.IsZero() {
		s += "; first reset " + runway.Clock(p.NextReset, now, loc)
	}
	return s
}

// runwayCollector reports at scrape time how many seconds each account
// and the pool have left at the recent pace (0: out now); an outlook that
// lasts or is not known yet has no series.
type runwayCollector struct {
	s                *Server
	account, poolDsc *prometheus.Desc
}

func newRunwayCollector(s *Server) runwayCollector {
	return runwayCollector{s: s,
		account: prometheus.NewDesc("keypool_runway_seconds",
			"Seconds until the account's first plan window or budget runs out at the recent pace (0: out now).", []string{"account"}, nil),
		poolDsc: prometheus.NewDesc("keypool_pool_runway_seconds",
			"Seconds until no account could serve new work of a protocol at the recent pace (0: none can now).", []string{"protocol"}, nil)}
}

func (c runwayCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.account; ch <- c.poolDsc }

func (c runwayCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.s.now()
	set := c.s.accounts.Load()
	for _, e := range set.all {
		if v, ok := secondsLeft(now, e.outlook(now)); ok {
			ch <- prometheus.MustNewConstMetric(c.account, prometheus.GaugeValue, v, e.acct.ID)
		}
	}
	for _, r := range poolRunways(now, set) {
		if v, ok := secondsLeft(now, r.Forecast); ok {
			ch <- prometheus.MustNewConstMetric(c.poolDsc, prometheus.GaugeValue, v, string(r.Protocol))
		}
	}
}

func secondsLeft(now time.Time, f runway.Forecast) (float64, bool) {
	switch f.State {
	case runway.RunsOut:
		return max(f.RunsOut.Sub(now).Seconds(), 0), true
	case runway.Out:
		return 0, true
	}
	return 0, false
}

// SessionView is what a status line shows of one conversation: the account
// it is bound to, that account's fullest plan window, and the pool's
// runway.
type SessionView struct {
	// Account is the bound account's id and Name its name; both empty
	// when the session is not (or no longer) bound.
	Account string `json:"account,omitempty"`
	Name    string `json:"name,omitempty"`
	// State is the account's state as /health says it.
	State pool.AccountState `json:"state,omitempty"`
	// Until is when a resting account serves again.
	Until time.Time `json:"until,omitzero"`
	// Tightest is the account's fullest plan window or budget, if any.
	Tightest *pool.Quota `json:"tightest,omitempty"`
	Runway   PoolRunway  `json:"runway"`
	// Profile names the profile the conversation is served under, if any.
	Profile string `json:"profile,omitempty"`
}

// Session returns the view of Claude Code session id (the session_id its
// status line is given). It reads only what the line shows: no store.
func (s *Server) Session(id string) SessionView {
	now := s.now()
	set := s.accounts.Load()
	v := SessionView{Runway: poolRunway(now, pool.ProtocolAnthropic, set.served[pool.ProtocolAnthropic])}
	b, ok := s.cfg.Bindings.Get(session.ClaudeCodeKey(id))
	if !ok || !b.Expires.After(now) {
		return v
	}
	for _, e := range set.all {
		if e.acct.ID != b.Account {
			continue
		}
		var cools []CooldownInfo
		v.Account, v.Name, v.Profile = e.acct.ID, e.acct.Name, b.Profile
		v.State, cools = e.health(now)
		for _, c := range cools {
			if c.Family == "all" && c.Until.After(v.Until) {
				v.Until = c.Until
			}
		}
		// The plan as last reported (kept across restarts) and the
		// budgets, leaving out windows that have reset since.
		day, month := e.state.Spent(now)
		qs := e.state.Quota()
		qs = append(qs[:len(qs):len(qs)], budgetWindows(e.acct, now, day, month)...)
		for _, q := range qs {
			if !q.ResetsAt.IsZero() && !q.ResetsAt.After(now) {
				continue
			}
			if v.Tightest == nil || q.Utilization > v.Tightest.Utilization {
				v.Tightest = &q
			}
		}
	}
	return v
}
