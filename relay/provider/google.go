package provider

import (
	"net/http"

	"keypool/relay/gemini"
	"keypool/relay/oauth"
	"keypool/relay/pool"
)

// Google's kinds: a Google login (Gemini through Code Assist) and a Gemini
// API key.
var googleKinds = []*Provider{
	{
		Kind: pool.KindGemini, Label: "Google login", Vendor: "Google", Mark: googleMark,
		Protocols: []pool.Protocol{pool.ProtocolGemini},
		API:       APICodeAssist,
		OAuth:     oauth.Gemini, LoginNames: []string{"gemini", "google"}, LoginLabel: "Google (Gemini, Code Assist)",
		LoginNote: "Google ended Login with Google for individual Gemini accounts on 2026-06-18; Code Assist Standard/Enterprise and Workspace accounts still work. For personal use, add a Gemini API key instead.",
		Base:      baseOr(gemini.DefaultCodeAssistBase),
		Auth: func(h http.Header, a pool.Account, secret string) {
			h.Del("X-Goog-Api-Key")
			bearer(h, a, secret)
		},
		NewTap:        func() Tap { return new(gemini.StreamTap) },
		JSONUsage:     gemini.ResponseUsage,
		Classify:      gemini.Classify,
		StreamOpening: gemini.StreamOpening,
	},
	{
		Kind: pool.KindGeminiAPI, Label: "Gemini API", Vendor: "Google", Mark: googleMark,
		Protocols:     []pool.Protocol{pool.ProtocolGemini},
		API:           APIGemini,
		Base:          baseOr(gemini.DefaultBaseURL),
		Auth:          func(h http.Header, _ pool.Account, secret string) { gemini.SetAuth(h, secret) },
		NewTap:        func() Tap { return new(gemini.StreamTap) },
		JSONUsage:     gemini.ResponseUsage,
		Classify:      gemini.Classify,
		StreamOpening: gemini.StreamOpening,
	},
}

var googleMark = Mark{Letter: "G", RGB: 0x4285f4} // Google's blue
