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
				t.Fatalf("%s: picked %s", s.name, got)
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
		t.Errorf("spread = %v", seen)
	}
}

func TestEarliest(t *testing.T) {
	now := time.Unix(1000, 0)
	c := testPool(1, 1)
	c[0].State.Cool(pool.FamilyAll, now.Add(time.Minute), pool.ReasonRateLimited)
	c[1].State.Cool("opus", now.Add(30*time.Second), pool.ReasonQuota)
	if got := Earliest(now, c, "opus", ""); !got.Equal(now.Add(30 * time.Second)) {
		t.Errorf("earliest = %v", got)
	}
	if got := Earliest(now, c, "sonnet", ""); !got.Equal(now) {
		t.Errorf("earliest for a free family = %v", got)
	}
}
