package provider

import (
	"net/http"

	"keypool/relay/anthropic"
	"keypool/relay/oauth"
	"keypool/relay/pool"
)

// Anthropic's kinds: a Claude Pro/Max subscription and an API key
// (Anthropic's own or a Claude-compatible mirror's).
var anthropicKinds = []*Provider{
	{
		Kind: pool.KindClaudeOAuth, Label: "Claude Pro/Max", Vendor: "Anthropic", Mark: anthropicMark,
		Protocols: []pool.Protocol{pool.ProtocolAnthropic},
		ChatOptIn: true, // a subscription is meant for Claude Code's own traffic
		API:       APIAnthropic,
		OAuth:     oauth.Claude, LoginNames: []string{"claude"}, LoginLabel: "Claude (Pro/Max)",
		Base: baseOr(anthropic.DefaultBaseURL),
		Auth: func(h http.Header, _ pool.Account, token string) {
			// An access token is always a bearer token, and needs the OAuth
			// beta on every call.
			anthropic.SetAuth(h, pool.AuthBearer, token)
			h.Set("Anthropic-Beta", anthropic.MergeBeta(h.Values("Anthropic-Beta"), anthropic.OAuthBeta))
		},
		NewTap:        func() Tap { return new(anthropic.StreamTap) },
		JSONUsage:     anthropic.ResponseUsage,
		Classify:      anthropic.Classify,
		StreamOpening: anthropic.StreamOpening,
		PlanQuota:     anthropic.PlanQuota,
		Overage:       anthropic.ReadOverage,
	},
	{
		Kind: pool.KindClaudeAPI, Label: "Anthropic API", Vendor: "Anthropic", Mark: anthropicMark,
		Protocols: []pool.Protocol{pool.ProtocolAnthropic, pool.ProtocolChat}, // chat by conversion
		API:       APIAnthropic,
		Base:      baseOr(anthropic.DefaultBaseURL),
		Auth: func(h http.Header, a pool.Account, key string) {
			anthropic.SetAuth(h, a.AuthHeader, key) // x-api-key, or bearer for a mirror that asks
		},
		NewTap:        func() Tap { return new(anthropic.StreamTap) },
		JSONUsage:     anthropic.ResponseUsage,
		Classify:      anthropic.Classify,
		StreamOpening: anthropic.StreamOpening,
		// A Claude-compatible mirror in front of subscriptions reports
		// their plan windows too.
		PlanQuota: anthropic.PlanQuota,
	},
}

var anthropicMark = Mark{Letter: "A", RGB: 0xc15f3c} // Anthropic's clay
