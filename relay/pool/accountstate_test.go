package pool

import (
	"testing"
	"time"
)

func TestAccountStateOf(t *testing.T) {
	until := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	rest := func(r Reason) *Cooldown { return &Cooldown{Until: until, Reason: r} }
	on := Account{ID: "a", Enabled: true}
	tests := []struct {
		name    string
		a       Account
		unknown bool
		rest    *Cooldown
		overage bool
		want    AccountState
	}{
		{"ready", on, false, nil, false, StateReady},
		{"unknown_kind_first", Account{Enabled: false}, true, nil, false, StateUnsupported},
		{"disabled_before_login", Account{NeedsLogin: true}, false, nil, false, StateDisabled},
		{"needs_login_flag", Account{Enabled: true, NeedsLogin: true}, false, rest(ReasonQuota), true, StateNeedsLogin},
		{"needs_login_rest", on, false, rest(ReasonNeedsLogin), false, StateNeedsLogin},
		{"needs_key_flag", Account{Enabled: true, NeedsKey: true}, false, nil, false, StateNeedsKey},
		{"needs_key_rest", on, false, rest(ReasonNeedsKey), false, StateNeedsKey},
		{"overage_before_rest", on, false, rest(ReasonOverage), true, StateOverage},
		{"unavailable", on, false, rest(ReasonUnavailable), false, StateUnavailable},
		{"cooling_on_a_limit", on, false, rest(ReasonRateLimited), false, StateCooling},
		{"cooling_on_budget", on, false, rest(ReasonBudget), false, StateCooling},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AccountStateOf(tt.a, !tt.unknown, tt.rest, tt.overage); got != tt.want {
				t.Errorf("AccountStateOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAccountStateWords(t *testing.T) {
	tests := []struct {
		s             AccountState
		allowOverage  bool
		serves, waits bool
		text          string
	}{
		{StateReady, false, true, false, "ready"},
		{StateOverage, false, false, false, "on extra usage"},
		{StateOverage, true, true, false, "on extra usage"},
		{StateNeedsLogin, false, false, true, "needs login"},
		{StateNeedsKey, false, false, true, "needs a key"},
		{StateCooling, false, false, false, "cooling"},
		{StateUnsupported, false, false, false, "not supported"},
	}
	for _, tt := range tests {
		if got := tt.s.Serves(tt.allowOverage); got != tt.serves {
			t.Errorf("%s.Serves(%v) = %v, want %v", tt.s, tt.allowOverage, got, tt.serves)
		}
		if got := tt.s.WaitsForUser(); got != tt.waits {
			t.Errorf("%s.WaitsForUser() = %v, want %v", tt.s, got, tt.waits)
		}
		if got := tt.s.Text(); got != tt.text {
			t.Errorf("%s.Text() = %q, want %q", tt.s, got, tt.text)
		}
	}
}
