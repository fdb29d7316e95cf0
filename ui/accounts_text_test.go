package ui

import (
	"testing"
	"time"

	"keypool/app/store"
	"keypool/relay"
)

// An account row tells today's attempts with their errors by kind, and what
// made a resting account rest.
func TestAccountRowText(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := snapshot{now: now,
		today: []store.DayTotal{
			{Account: "work", Model: "claude-sonnet-4-5", Counts: relay.Counts{Requests: 3, Errors: 2, Connection: 1, Timeout: 1}, Usage: relay.Usage{InputTokens: 10, OutputTokens: 5}},
			{Account: "work", Model: "claude-opus-4-6", Counts: relay.Counts{Requests: 1, Errors: 1, Connection: 1}},
			{Account: "home", Model: "claude-sonnet-4-5", Counts: relay.Counts{Requests: 2, Errors: 1}},
		},
		health: relay.Health{Accounts: []relay.AccountHealth{
			{ID: "work", State: "cooling", Cooldowns: []relay.CooldownInfo{{Family: "all", Reason: "connection", Until: now.Add(10 * time.Second)}},
				LastError: &relay.Failure{Time: now, Kind: relay.ErrorConnection, Message: "connection refused by account work"}},
			{ID: "home", State: "ready", LastError: &relay.Failure{Time: now.Add(-time.Hour), Kind: relay.ErrorClient, Message: "old news"}},
		}},
	}
	tests := []struct{ id, today, cause string }{
		{"work", "4 requests, 3 errors (2 connection, 1 timeout), 15 tokens today", "connection refused by account work"},
		{"home", "2 requests, 1 error, 0 tokens today", ""},
		{"new", "0 requests, 0 tokens today", ""},
	}
	for _, tt := range tests {
		if got := todayText(s, tt.id); got != tt.today {
			t.Errorf("todayText(%s) = %q, want %q", tt.id, got, tt.today)
		}
		if got := restingCause(s, tt.id); got != tt.cause {
			t.Errorf("restingCause(%s) = %q, want %q", tt.id, got, tt.cause)
		}
	}
}
