package provider

import (
	"net/http"

	"keypool/relay/oauth"
	"keypool/relay/openai"
	"keypool/relay/pool"
)

// OpenAI's kinds: a ChatGPT login (Codex's backend), an OpenAI API key, and
// any service that speaks OpenAI's Chat Completions.
var openAIKinds = []*Provider{
	{
		Kind: pool.KindCodexOAuth, Label: "ChatGPT", Vendor: "OpenAI", Mark: openAIMark,
		Protocols: []pool.Protocol{pool.ProtocolResponses},
		API:       APIResponses,
		OAuth:     oauth.Codex, LoginNames: []string{"codex", "chatgpt"}, LoginLabel: "ChatGPT (Codex)",
		DeviceLogin:   true,
		Base:          baseOr(openai.DefaultCodexBase),
		Auth:          openai.SetCodexAuth,
		StreamFault:   openai.StreamFault,
		NewTap:        func() Tap { return new(openai.StreamTap) },
		JSONUsage:     openai.ResponseUsage,
		Classify:      openai.Classify,
		StreamOpening: openai.StreamOpening,
		PlanQuota:     openai.PlanQuota,
	},
	{
		Kind: pool.KindOpenAIResponses, Label: "OpenAI API", Vendor: "OpenAI", Mark: openAIMark,
		Protocols:     []pool.Protocol{pool.ProtocolResponses},
		API:           APIResponses,
		Base:          baseOr(openai.DefaultAPIBase),
		Auth:          bearer,
		StreamFault:   openai.StreamFault,
		NewTap:        func() Tap { return new(openai.StreamTap) },
		JSONUsage:     openai.ResponseUsage,
		Classify:      openai.Classify,
		StreamOpening: openai.StreamOpening,
		PlanQuota:     openai.PlanQuota, // a Codex-compatible backend may report a plan
	},
	{
		Kind: pool.KindOpenAICompatible, Label: "OpenAI-compatible", Vendor: "OpenAI-compatible service",
		Mark:          Mark{Letter: "C", RGB: 0x5b6b7f}, // any compatible service
		Protocols:     []pool.Protocol{pool.ProtocolChat},
		API:           APIChat,
		NeedsAPIURL:   true,
		Base:          func(a pool.Account) string { return a.APIURL },
		Auth:          bearer,
		StreamFault:   openai.StreamFault,
		NewTap:        func() Tap { return new(openai.ChatTap) },
		JSONUsage:     openai.ChatUsage,
		Classify:      openai.Classify,
		StreamOpening: openai.ChatOpening,
	},
}

var openAIMark = Mark{Letter: "O", RGB: 0x10a37f} // OpenAI's green

// bearer presents the secret as a bearer token and nothing else.
func bearer(h http.Header, _ pool.Account, secret string) { openai.SetAuth(h, secret) }
