// Package sched chooses the account that serves a request: the session's
// bound account while it is usable, else the highest priority tier, spreading
// load among accounts of equal priority. It reads time only from its
// arguments, so every choice can be replayed in a test.
package sched

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"keypool/relay/pool"
	"keypool/relay/runway"
)

// Candidate is an account the picker may choose, with its live state.
type Candidate struct {
	Account pool.Account
	State   *pool.State
	// Runway is the account's plan-window and budget history (nil: none).
	Runway *runway.Tracker
	// Unlimited: no plan or budget is expected to limit the account (a
	// pay-per-token key without a cap). Unless its answers report plan
	// windows after all (a mirror in front of subscriptions), it never
	// runs out.
	Unlimited bool
}

// limited reports whether a plan or a budget limits c: it has one, or its
// answers reported plan windows.
func (c Candidate) limited() bool {
	return !c.Unlimited || c.Runway != nil && c.Runway.Has()
}

// Outlook is c's runway for family f at now.
func (c Candidate) Outlook(now time.Time, f pool.Family) runway.Forecast {
	switch {
	case c.Runway != nil && c.Runway.Has():
		return c.Runway.For(now, f)
	case c.Unlimited:
		return runway.Forecast{State: runway.Lasts}
	}
	return runway.Forecast{State: runway.Unknown}
}

// Strategy is how accounts of the same priority share the work.
type Strategy string

const (
	// StrategyPriority spreads by load among equals (the default).
	StrategyPriority Strategy = "priority"
	// StrategyFillFirst stays on one account until its plan quota reaches
	// the threshold, then moves to the one whose weekly window resets
	// soonest: quota that resets first is spent first.
	StrategyFillFirst Strategy = "fill-first"
	// StrategySpread prefers the least-used plan.
	StrategySpread Strategy = "spread"
)

// Picker chooses accounts and keeps session bindings.
type Picker struct {
	Bindings Bindings      // required
	TTL      time.Duration // how long a binding lives after it is renewed
	Renewal  time.Duration // renew when less than this remains
	Strategy Strategy      // "": priority
	// FillThreshold is fill-first's "full" mark (0..1): 0.95.
	FillThreshold float64
	rr            atomic.Uint64 // round-robin offset among equals
	avoid         atomic.Int64  // see SetAvoidRunout
}

// SetAvoidRunout makes a new conversation skip an account forecast to run
// out within d when another account can serve it (0: never). It may be
// called while the picker is in use.
func (p *Picker) SetAvoidRunout(d time.Duration) { p.avoid.Store(int64(d)) }

// Usable reports whether c may serve family f at now.
func Usable(c Candidate, now time.Time, f pool.Family) bool {
	if !c.Account.Enabled || c.Account.WaitsForUser() {
		return false
	}
	_, cooling := c.State.CoolingFor(now, f)
	return !cooling
}

// Pick returns the index in cands of the account to use, or -1 when none is
// usable. skip marks accounts already tried for this request. sticky reports
// that the session's binding chose it.
func (p *Picker) Pick(now time.Time, cands []Candidate, f pool.Family, session string, skip func(i int) bool) (i int, sticky bool) {
	if session != "" {
		if b, ok := p.Bindings.Get(session); ok && b.Expires.After(now) {
			for i, c := range cands {
				// A conversation leaves an account on paid extra usage
				// for one that serves within a plan: its cache is lost,
				// but a cache miss on a plan costs quota, not money.
				if c.Account.ID == b.Account && !skip(i) && Usable(c, now, f) && !c.State.PaidOverage(now) {
					return i, true
				}
			}
		}
	}
	return p.fresh(now, cands, f, int(p.rr.Add(1)%uint64(max(len(cands), 1))), skip), false
}

// Next returns the index of the account a new conversation of family f
// would go to now, or -1: Pick's choice without a session, taking no turn
// (for showing, not serving).
func (p *Picker) Next(now time.Time, cands []Candidate, f pool.Family) int {
	return p.fresh(now, cands, f, int(p.rr.Load()%uint64(max(len(cands), 1))), func(int) bool { return false })
}

// fresh chooses for a new conversation, scanning from off.
func (p *Picker) fresh(now time.Time, cands []Candidate, f pool.Family, off int, skip func(i int) bool) int {
	if avoid := time.Duration(p.avoid.Load()); avoid > 0 {
		// A new conversation first looks past accounts about to hit a wall,
		// so a long task need not move (and lose its cache) half-way.
		near := func(i int) bool {
			o := cands[i].Outlook(now, f)
			return skip(i) || o.State == runway.Out || o.State == runway.RunsOut && o.RunsOut.Sub(now) < avoid
		}
		if i := p.scan(now, cands, f, off, near); i >= 0 {
			return i
		}
	}
	return p.scan(now, cands, f, off, skip)
}

// scan returns the best usable candidate not skipped: the highest priority,
// and among equals the one the strategy prefers. An account on paid extra
// usage (one the user allowed to use it) comes after every other, whatever
// its priority: plans before money.
func (p *Picker) scan(now time.Time, cands []Candidate, f pool.Family, off int, skip func(i int) bool) int {
	best, bestPrio, bestPaid := -1, 0, false
	var bestLoad int64
	for j := range cands {
		// Start the scan at a rotating offset so equal accounts take turns.
		i := (j + off) % len(cands)
		c := cands[i]
		if skip(i) || !Usable(c, now, f) {
			continue
		}
		load := c.State.InFlight()
		paid := c.State.PaidOverage(now)
		switch {
		case best < 0 || bestPaid && !paid || paid == bestPaid && c.Account.Priority > bestPrio:
			best, bestPrio, bestPaid, bestLoad = i, c.Account.Priority, paid, load
		case paid == bestPaid && c.Account.Priority == bestPrio && p.better(now, f, c, cands[best], load, bestLoad):
			best, bestLoad = i, load
		}
	}
	return best
}

// runwayMargin is how much longer one account's runway must be for a new
// conversation to prefer it: forecasts this close are the same.
const runwayMargin = 15 * time.Minute

// longer reports whether c's runway for f is known to be longer than cur's
// by a margin, and whether the two can be told apart at all. Only two
// limited accounts are compared: a pay-per-token key always "lasts", and
// sending new work to it rather than to a plan with room is the spill-over
// avoid_runout opts into, not a tie-break.
func longer(now time.Time, f pool.Family, c, cur Candidate) (longer, differ bool) {
	if !c.limited() || !cur.limited() {
		return false, false
	}
	ce, cok := reach(now, c.Outlook(now, f))
	be, bok := reach(now, cur.Outlook(now, f))
	if !cok || !bok {
		return false, false
	}
	switch d := ce.Sub(be); {
	case d > runwayMargin:
		return true, true
	case d < -runwayMargin:
		return false, true
	}
	return false, false
}

// reach is how far an outlook lets an account serve: a run-out time, now
// when out, the far future when it lasts; false when unknown.
func reach(now time.Time, o runway.Forecast) (time.Time, bool) {
	switch o.State {
	case runway.RunsOut:
		return o.RunsOut, true
	case runway.Out:
		return now, true
	case runway.Lasts:
		return now.Add(100 * 365 * 24 * time.Hour), true
	}
	return time.Time{}, false
}

// better reports whether c beats the current best of the same priority
// under the picker's strategy. Except when filling one plan first, the
// longer runway wins.
func (p *Picker) better(now time.Time, f pool.Family, c, cur Candidate, load, curLoad int64) bool {
	if p.Strategy != StrategyFillFirst {
		if l, differ := longer(now, f, c, cur); differ {
			return l
		}
	}
	switch p.Strategy {
	case StrategyFillFirst:
		th := p.FillThreshold
		if th == 0 {
			th = 0.95
		}
		cu, cr := usage(c.State.Quota())
		bu, br := usage(cur.State.Quota())
		cFull, bFull := cu >= th, bu >= th
		if cFull != bFull {
			return !cFull // an account with room first
		}
		if !cr.Equal(br) {
			// The window that resets soonest is spent first; an account
			// that reports none comes after those that do.
			return !cr.IsZero() && (br.IsZero() || cr.Before(br))
		}
		if cu != bu {
			return cu > bu // stay on the one already being filled
		}
	case StrategySpread:
		cu, _ := usage(c.State.Quota())
		bu, _ := usage(cur.State.Quota())
		if cu != bu {
			return cu < bu
		}
	}
	return load < curLoad
}

// usage is a plan's highest window utilisation and its weekly (longest
// named) window's reset.
func usage(q []pool.Quota) (float64, time.Time) {
	var top float64
	var reset time.Time
	for _, w := range q {
		top = max(top, w.Utilization)
		if strings.HasPrefix(w.Window, "7d") || w.Window == "secondary" {
			if reset.IsZero() || w.ResetsAt.After(reset) {
				reset = w.ResetsAt
			}
		}
	}
	return top, reset
}

// Bind records that session is served by account, renewing the binding only
// when it is new, moved, or close to expiring, so a long conversation costs
// few writes.
func (p *Picker) Bind(now time.Time, session, account string) { p.BindIn(now, session, account, "") }

// BindIn is Bind for a conversation served under a profile ("": none).
func (p *Picker) BindIn(now time.Time, session, account, profile string) {
	if session == "" {
		return
	}
	if b, ok := p.Bindings.Get(session); ok && b.Account == account && b.Profile == profile && b.Expires.Sub(now) > p.Renewal {
		return
	}
	p.Bindings.Put(session, Binding{Account: account, Expires: now.Add(p.TTL), Profile: profile})
}

// Earliest returns when the first of cands that may serve model becomes
// usable for f again, or the zero time if none is enabled.
func Earliest(now time.Time, cands []Candidate, f pool.Family, model string) time.Time {
	var first time.Time
	for _, c := range cands {
		if !c.Account.Enabled || c.Account.WaitsForUser() || !c.Account.Allows(model) {
			continue
		}
		cd, cooling := c.State.CoolingFor(now, f)
		t := now
		if cooling {
			t = cd.Until
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first
}

// MemoryBindings keeps bindings in memory; for tests and a relay without a
// store.
type MemoryBindings struct {
	m sync.Map // string → Binding
}

// Get returns the binding for session.
func (m *MemoryBindings) Get(session string) (Binding, bool) {
	v, ok := m.m.Load(session)
	if !ok {
		return Binding{}, false
	}
	return v.(Binding), true
}

// Put stores the binding for session.
func (m *MemoryBindings) Put(session string, b Binding) { m.m.Store(session, b) }
