package sched

import (
	"testing"
	"time"

	"keypool/relay/pool"
)

func testPool(prios ...int) []Candidate {
	var out []Candidate
	for i, p := range prios {
		out = append(out, Candidate{Account: pool.Account{ID: string(rune('a' + i)), Priority: p, Enabled: true}, State: pool.NewState()})
	}
	return out
}

var none = func(int) bool { return false }

func TestPickSequence(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := testPool(100, 50, 50)
	p := &Picker{Bindings: &MemoryBindings{}, TTL: time.Hour, Renewal: 5 * time.Minute}
	pick := func() string {
		i, _ := p.Pick(now, c, "sonnet", "", none)
		if i < 0 {
			return "-"
		}
		return c[i].Account.ID
	}
	steps := []struct {
		name string
		do   func()
		want string
	}{
		{"highest_priority", func() {}, "a"},
		{"a_cools", func() { c[0].State.Cool(pool.FamilyAll, now.Add(time.Minute), pool.ReasonRateLimited) }, "b|c"},
		{"least_in_flight", func() { c[1].State.Begin() }, "c"},
		{"family_cooldown_elsewhere_ignored", func() { c[2].State.Cool("opus", now.Add(time.Hour), pool.ReasonQuota) }, "c"},
		{"all_cool", func() {
			c[1].State.Cool(pool.FamilyAll, now.Add(time.Minute), pool.ReasonRateLimited)
			c[2].State.Cool("sonnet", now.Add(2*time.Minute), pool.ReasonQuota)
		}, "-"},
		{"time_passes", func() { now = now.Add(61 * time.Second) }, "a"},
		{"disabled", func() { c[0].Account.Enabled = false }, "b"},
	}
	for _, s := range steps {
		s.do()
		got := pick()
		if s.want == "b|c" {
			if got != "b" && got != "c" {
				t.Fatalf("%s: picked %s, want b or c", s.name, got)
			}
			continue
		}
		if got != s.want {
			t.Fatalf("%s: picked %s, want %s", s.name, got, s.want)
		}
	}
}

func TestRoundRobinAmongEquals(t *testing.T) {
	c := testPool(5, 5, 5)
	p := &Picker{Bindings: &MemoryBindings{}}
	seen := map[int]int{}
	for range 30 {
		i, _ := p.Pick(time.Now(), c, "", "", none)
		seen[i]++
	}
	if len(seen) != 3 || seen[0] != 10 {
		t.Errorf("30 picks among 3 equals went %v, want 10 to each", seen)
	}
}

func TestEarliest(t *testing.T) {
	now := time.Unix(1000, 0)
	c := testPool(1, 1)
	c[0].State.Cool(pool.FamilyAll, now.Add(time.Minute), pool.ReasonRateLimited)
	c[1].State.Cool("opus", now.Add(30*time.Second), pool.ReasonQuota)
	if got, want := Earliest(now, c, "opus", ""), now.Add(30*time.Second); !got.Equal(want) {
		t.Errorf("Earliest(opus) = %v, want %v", got, want)
	}
	if got := Earliest(now, c, "sonnet", ""); !got.Equal(now) {
		t.Errorf("Earliest for a free family = %v, want now, %v", got, now)
	}
}

// Each strategy's choices under a scripted quota timeline.
func TestStrategies(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	week := func(util float64, resetInDays int) []pool.Quota {
		return []pool.Quota{{Window: "5h", Utilization: util / 2}, {Window: "7d", Utilization: util, ResetsAt: now.AddDate(0, 0, resetInDays)}}
	}
	pick := func(p *Picker, c []Candidate) string {
		i, _ := p.Pick(now, c, "", "", none)
		return c[i].Account.ID
	}
	t.Run("fill_first", func(t *testing.T) {
		c := testPool(5, 5, 5)
		c[0].State.SetQuota(week(0.10, 6)) // a: resets in 6 days
		c[1].State.SetQuota(week(0.50, 2)) // b: resets in 2 days: spend it first
		c[2].State.SetQuota(week(0.20, 4)) // c
		p := &Picker{Bindings: &MemoryBindings{}, Strategy: StrategyFillFirst}
		steps := []struct {
			quota func()
			want  string
		}{
			{func() {}, "b"},
			{func() { c[1].State.SetQuota(week(0.90, 2)) }, "b"}, // stays while under 95%
			{func() { c[1].State.SetQuota(week(0.96, 2)) }, "c"}, // full: next soonest reset
			{func() { c[2].State.SetQuota(week(0.97, 4)) }, "a"},
			{func() { c[0].State.SetQuota(week(0.99, 6)) }, "b"}, // all full: back to the soonest reset
		}
		for i, s := range steps {
			s.quota()
			if got := pick(p, c); got != s.want {
				t.Fatalf("step %d: picked %s, want %s", i, got, s.want)
			}
		}
	})
	t.Run("spread", func(t *testing.T) {
		c := testPool(5, 5)
		c[0].State.SetQuota(week(0.40, 3))
		c[1].State.SetQuota(week(0.20, 3))
		p := &Picker{Bindings: &MemoryBindings{}, Strategy: StrategySpread}
		if got := pick(p, c); got != "b" {
			t.Fatalf("picked %s, want b (the less used)", got)
		}
		c[1].State.SetQuota(week(0.60, 3))
		if got := pick(p, c); got != "a" {
			t.Fatalf("picked %s after b rose, want a", got)
		}
	})
	t.Run("priority_first_under_every_strategy", func(t *testing.T) {
		c := testPool(10, 5)
		c[0].State.SetQuota(week(0.99, 6))
		c[1].State.SetQuota(week(0.01, 1))
		for _, st := range []Strategy{StrategyPriority, StrategyFillFirst, StrategySpread} {
			if got := pick(&Picker{Bindings: &MemoryBindings{}, Strategy: st}, c); got != "a" {
				t.Errorf("%s: picked %s, want a (the higher priority)", st, got)
			}
		}
	})
	t.Run("sticky_under_fill_first", func(t *testing.T) {
		c := testPool(5, 5)
		c[0].State.SetQuota(week(0.10, 6))
		c[1].State.SetQuota(week(0.10, 1))
		p := &Picker{Bindings: &MemoryBindings{}, Strategy: StrategyFillFirst, TTL: time.Hour}
		p.Bind(now, "s", "a") // a conversation already on a
		if i, sticky := p.Pick(now, c, "", "s", none); c[i].Account.ID != "a" || !sticky {
			t.Errorf("the session bound to a: picked %s, sticky %v; want a, true", c[i].Account.ID, sticky)
		}
	})
}
