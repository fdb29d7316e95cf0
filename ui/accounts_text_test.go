package ui

import (
	"testing"
	"time"

	"keypool/app"
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

// TestProviderBadge: Anthropic, OpenAI and Google accounts show their
// provider's mark; any other kind its initial on its colour.
func TestProviderBadge(t *testing.T) {
	tests := []struct {
		kind   app.Kind
		mark   string // the mark's file, or "" for the letter
		letter string
	}{
		{app.KindClaudeOAuth, "anthropic.svg", ""},
		{app.KindClaudeAPI, "anthropic.svg", ""},
		{app.KindCodexOAuth, "openai.svg", ""},
		{app.KindOpenAIResponses, "openai.svg", ""},
		{app.KindGemini, "google.svg", ""},
		{app.KindGeminiAPI, "google.svg", ""},
		{app.KindOpenAICompatible, "", "C"},
		{"claude-web", "", "?"},
	}
	b := newProviderBadge()
	for _, tt := range tests {
		b.set(tt.kind) // one badge, reused as rows are
		if tt.mark != "" {
			if !b.mark.Visible() || b.mark.Resource == nil || b.mark.Resource.Name() != tt.mark || b.disc.Visible() || b.letter.Visible() {
				t.Errorf("%s: want the mark %s alone", tt.kind, tt.mark)
			}
			continue
		}
		if b.mark.Visible() || !b.disc.Visible() || !b.letter.Visible() || b.letter.Text != tt.letter {
			t.Errorf("%s: mark shown %v, letter %q (shown %v); want the letter %q alone", tt.kind, b.mark.Visible(), b.letter.Text, b.letter.Visible(), tt.letter)
		}
	}
}
