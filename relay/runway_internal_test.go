package relay

import (
	"testing"
	"time"

	"keypool/relay/pool"
	"keypool/relay/runway"
)

// The pool's runway: an account back before the others run out keeps the
// pool going; an account with no forecast yet leaves it unknown; a kind
// that reports no plan (a key, a Google login) lasts as far as anyone knows.
func TestPoolRunway(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	// burning runs out in ≈1 h 40 min (30% an hour, at 50%), its 5h
	// window resetting in three hours.
	account := func(id string, kind pool.Kind) *entry {
		return &entry{acct: pool.Account{ID: id, Kind: kind, Enabled: true}, up: providerOf(kind), state: pool.NewState(), runway: &runway.Tracker{}}
	}
	burning := account("burning", pool.KindClaudeOAuth)
	for i := range 7 {
		burning.runway.Observe(now.Add(time.Duration(i-6)*10*time.Minute),
			[]pool.Quota{{Window: "5h", Utilization: 0.2 + 0.05*float64(i), ResetsAt: now.Add(3 * time.Hour)}})
	}
	tests := []struct {
		name  string
		other func() *entry
		want  runway.State
		next  time.Time // NextReset, when it matters
	}{
		{"alone: out with it, first reset its own", nil, runway.RunsOut, now.Add(3 * time.Hour)},
		{"beside a subscription not heard from yet", func() *entry { return account("new", pool.KindClaudeOAuth) }, runway.Unknown, now.Add(3 * time.Hour)},
		{"beside a key without a cap", func() *entry { return account("key", pool.KindClaudeAPI) }, runway.Lasts, time.Time{}},
		{"beside an account back before the wall", func() *entry {
			e := account("resting", pool.KindClaudeOAuth)
			e.state.Cool(pool.FamilyAll, now.Add(30*time.Minute), pool.ReasonQuota)
			return e
		}, runway.Lasts, time.Time{}},
		{"beside an account back after the wall", func() *entry {
			e := account("resting", pool.KindClaudeOAuth)
			e.state.Cool(pool.FamilyAll, now.Add(2*time.Hour), pool.ReasonQuota)
			return e
		}, runway.RunsOut, now.Add(2 * time.Hour)},
		{"beside a disabled one", func() *entry {
			e := account("off", pool.KindClaudeAPI)
			e.acct.Enabled = false
			return e
		}, runway.RunsOut, now.Add(3 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := []*entry{burning}
			if tt.other != nil {
				es = append(es, tt.other())
			}
			r := poolRunway(now, pool.ProtocolAnthropic, es)
			if r.State != tt.want || !r.NextReset.Equal(tt.next) {
				t.Errorf("pool runway = %+v, want %s, next reset %s", r, tt.want, tt.next)
			}
			if r.State == runway.RunsOut && (r.RunsOut.Before(now.Add(95*time.Minute)) || r.RunsOut.After(now.Add(105*time.Minute))) {
				t.Errorf("runs out at %s, want ≈1 h 40 min from now", r.RunsOut)
			}
		})
	}
}
