package sched

import (
	"testing"
	"time"

	"keypool/relay/pool"
	"keypool/relay/runway"
)

// paced returns a plan's history whose 5h window rises by step every ten
// minutes for an hour before now, from 20%, resetting four hours later.
func paced(now time.Time, step float64) *runway.Tracker {
	tr := &runway.Tracker{}
	start := now.Add(-time.Hour)
	for i := range 7 {
		tr.Observe(start.Add(time.Duration(i)*10*time.Minute), []pool.Quota{
			{Window: "5h", Utilization: 0.2 + step*float64(i), ResetsAt: now.Add(4 * time.Hour)}})
	}
	return tr
}

func TestPlacementByRunway(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	// a: out in ≈20 min (10% every 10 min, at 80%); b: out in ≈1 h 40 min
	// (5% every 10 min, at 50%); c: a lower-priority key without a cap.
	fresh := func() []Candidate {
		c := testPool(100, 100, 50)
		c[0].Runway, c[1].Runway, c[2].Unlimited = paced(now, 0.10), paced(now, 0.05), true
		return c
	}
	if o := fresh()[0].Outlook(now, "sonnet"); o.State != runway.RunsOut || o.RunsOut.Sub(now) > 30*time.Minute {
		t.Fatalf("a's outlook = %+v, want out within 30 min", o)
	}
	tests := []struct {
		name    string
		avoid   time.Duration
		prepare func(c []Candidate, b Bindings)
		session string
		want    string
	}{
		{name: "equal priority: the longer runway", want: "b"},
		{name: "a key without a cap at equal priority does not outrun a plan with room", prepare: func(c []Candidate, _ Bindings) {
			c[2].Account.Priority = 100
			c[0].Account.Enabled = false
			c[2].State.Begin() // the key is busier: load decides, not the runway
		}, want: "b"},
		{name: "a's runway unknown: by load as before", prepare: func(c []Candidate, _ Bindings) {
			c[0].Runway = &runway.Tracker{}
			c[1].State.Begin()
		}, want: "a"},
		{name: "avoid: a new conversation skips both near walls for the key", avoid: 2 * time.Hour, want: "c"},
		{name: "avoid: only a is near", avoid: time.Hour, want: "b"},
		{name: "avoid: a bound conversation stays", avoid: 2 * time.Hour, session: "s1", prepare: func(_ []Candidate, b Bindings) {
			b.Put("s1", Binding{Account: "a", Expires: now.Add(time.Hour)})
		}, want: "a"},
		{name: "avoid: nothing else can serve, so the near wall serves", avoid: 2 * time.Hour, prepare: func(c []Candidate, _ Bindings) {
			c[1].Account.Enabled, c[2].Account.Enabled = false, false
		}, want: "a"},
		{name: "fill-first keeps filling", prepare: func(c []Candidate, _ Bindings) {
			c[0].State.SetQuota([]pool.Quota{{Window: "5h", Utilization: 0.8, ResetsAt: now.Add(4 * time.Hour)}})
			c[1].State.SetQuota([]pool.Quota{{Window: "5h", Utilization: 0.5, ResetsAt: now.Add(4 * time.Hour)}})
		}, want: "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fresh()
			b := &MemoryBindings{}
			if tt.prepare != nil {
				tt.prepare(c, b)
			}
			p := &Picker{Bindings: b, TTL: time.Hour}
			p.SetAvoidRunout(tt.avoid)
			if tt.name == "fill-first keeps filling" {
				p.Strategy = StrategyFillFirst
			}
			// Every rotation of the scan picks the same.
			for range len(c) {
				i, _ := p.Pick(now, c, "sonnet", tt.session, none)
				if i < 0 || c[i].Account.ID != tt.want {
					got := "-"
					if i >= 0 {
						got = c[i].Account.ID
					}
					t.Fatalf("picked %s, want %s", got, tt.want)
				}
			}
		})
	}
}
