package pool

import (
	"testing"
	"time"
)

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"claude-opus-*", "claude-opus-4-6", true},
		{"claude-opus-*", "claude-sonnet-4-5", false},
		{"*", "anything", true},
		{"*haiku*", "claude-haiku-4-5", true},
		{"claude-*-4-5", "claude-sonnet-4-5", true},
		{"claude-*-4-5", "claude-sonnet-4-6", false},
		{"exact", "exact", true},
		{"exact", "exact-not", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := MatchWildcard(tt.pat, tt.s); got != tt.want {
			t.Errorf("MatchWildcard(%q, %q) = %v", tt.pat, tt.s, got)
		}
	}
	a := Account{Models: []string{"claude-opus-*", "claude-haiku-*"}}
	if !a.Allows("claude-opus-4-6") || a.Allows("claude-sonnet-4-5") || !a.Allows("") || !(Account{}).Allows("x") {
		t.Error("Allows")
	}
}

func TestStateCooldowns(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewState()
	s.Cool("opus", now.Add(time.Hour), ReasonQuota)
	s.Cool(FamilyAll, now.Add(time.Minute), ReasonRateLimited)
	s.Cool(FamilyAll, now.Add(30*time.Second), ReasonOverloaded) // earlier end does not shorten
	if c, ok := s.CoolingFor(now, "opus"); !ok || c.Reason != ReasonQuota {
		t.Errorf("opus: %+v %v", c, ok)
	}
	if c, ok := s.CoolingFor(now, "sonnet"); !ok || c.Reason != ReasonRateLimited || !c.Until.Equal(now.Add(time.Minute)) {
		t.Errorf("sonnet: %+v %v", c, ok)
	}
	if _, ok := s.CoolingFor(now.Add(2*time.Minute), "sonnet"); ok {
		t.Error("sonnet still cooling after the account cooldown ended")
	}
	end := s.Begin()
	if s.InFlight() != 1 {
		t.Error("in flight")
	}
	end()
	if s.InFlight() != 0 {
		t.Error("in flight after end")
	}
}
