// Package provider declares each kind of account Keypool serves, once: the
// protocols it answers, the upstream API it speaks and how requests reach it
// (base URL, credential), how usage, errors and plan windows are read from
// its answers, how it logs in, what the config file requires of it, and how
// it is named and marked for people. The relay, the app and the desktop app
// all read this table; a kind is added by writing one file here (see
// docs/providers.md).
package provider

import (
	"net/http"
	"slices"

	"keypool/relay/failover"
	"keypool/relay/oauth"
	"keypool/relay/pool"
	"keypool/relay/sse"
)

// API is the upstream API an account kind speaks.
type API string

// The upstream APIs.
const (
	APIAnthropic  API = "anthropic"   // Anthropic's Messages API
	APIResponses  API = "responses"   // OpenAI's Responses API, or ChatGPT's Codex backend
	APIChat       API = "chat"        // OpenAI Chat Completions
	APIGemini     API = "gemini"      // Google's Generative Language API
	APICodeAssist API = "code-assist" // Google's Code Assist (a Google login): Gemini calls in an envelope
)

// Tap reads usage from an upstream's stream events, one event at a time.
type Tap interface {
	Event(ev []byte)
	Result() (model string, u pool.Usage, errType string)
}

// Mark is how a kind is marked for people: a letter on its vendor's colour.
type Mark struct {
	Letter string
	RGB    uint32 // 0xRRGGBB
}

// Provider is one account kind.
type Provider struct {
	Kind   pool.Kind
	Label  string // the kind for people: "Claude Pro/Max"
	Vendor string // who runs the upstream: "Anthropic"
	Mark   Mark

	// Protocols are the client protocols the kind answers. A protocol
	// other than the one its API speaks is answered by conversion.
	Protocols []pool.Protocol
	// ChatOptIn: the kind also answers OpenAI-format chat, converted, when
	// the account opts in (pool.Account.ConvertedTraffic).
	ChatOptIn bool
	API       API

	// OAuth is the browser login the kind uses (relay/oauth's Claude,
	// Codex or Gemini: its endpoints, client, grants and the takeover of
	// its CLI's own login); nil for kinds that use an API key. LoginNames
	// are what `keypool login NAME` accepts for it, the first one shown.
	OAuth      func() oauth.Provider
	LoginNames []string
	// LoginLabel names a browser login's kind in the window's login
	// dialog: "Claude (Pro/Max)"; LoginNote is said when it starts, if
	// anything must be known first; DeviceLogin: it can log in with a
	// device code instead of a browser on this computer.
	LoginLabel  string
	LoginNote   string
	DeviceLogin bool
	// NeedsAPIURL: the kind has no default upstream, so an account must
	// name one.
	NeedsAPIURL bool

	// Base is the upstream base URL of an account, without a trailing slash.
	Base func(a pool.Account) string
	// Auth presents the account's secret (API key or access token),
	// replacing the client's credential for the relay.
	Auth func(h http.Header, a pool.Account, secret string)
	// NewTap starts reading a stream's usage; JSONUsage reads a whole
	// answer's.
	NewTap    func() Tap
	JSONUsage func(body []byte) (model string, u pool.Usage, ok bool)
	// Classify is the kind's failover table; StreamOpening judges the
	// events that open its streams, so a stream that fails before its
	// first word is left like an error answer.
	Classify      failover.Classifier
	StreamOpening func(ev []byte) sse.Opening
	// PlanQuota reads plan windows from an answer's headers; nil for kinds
	// without a plan.
	PlanQuota func(h http.Header) []pool.Quota
	// Overage reads a subscription's paid extra usage from an answer's
	// headers (ok: the answer reports it); nil for kinds without one.
	Overage func(h http.Header) (o pool.Overage, ok bool)
	// StreamFault reads an error a stream reports inside itself (the
	// tap's error type): ok when it is the account's fault, which rests
	// it for reason (a plan's usage limit: pool.ReasonQuota); nil for
	// kinds whose streams report none.
	StreamFault func(errType string) (reason pool.Reason, ok bool)
}

// IsOAuth reports whether the kind holds OAuth tokens (a bearer access
// token that is refreshed) rather than an API key.
func (p *Provider) IsOAuth() bool { return p.OAuth != nil }

// StreamFaultOf is StreamFault's verdict on errType; false for a kind
// without the hook, or no error.
func (p *Provider) StreamFaultOf(errType string) (pool.Reason, bool) {
	if p.StreamFault == nil || errType == "" {
		return "", false
	}
	return p.StreamFault(errType)
}

// Serves reports whether every account of the kind answers protocol proto.
func (p *Provider) Serves(proto pool.Protocol) bool { return slices.Contains(p.Protocols, proto) }

// ServesAccount reports whether account a (of this kind) answers protocol
// proto: the kind's protocols, plus converted chat for an account that
// opted in.
func (p *Provider) ServesAccount(a pool.Account, proto pool.Protocol) bool {
	return p.Serves(proto) || proto == pool.ProtocolChat && p.ChatOptIn && a.ConvertedTraffic
}

// Converts reports whether a request in protocol proto is converted for
// this kind's API: OpenAI-format chat answered by a Claude account.
func (p *Provider) Converts(proto pool.Protocol) bool {
	return proto == pool.ProtocolChat && p.API == APIAnthropic
}

// table holds every kind, in the order they are listed to people: the
// built-in kinds, then those Register added.
var table = slices.Concat(anthropicKinds, openAIKinds, googleKinds)

// Register adds kind p to the table, after the others. A kind defined in a
// file of its own (or in a test) calls it from an init function: the
// table is read without a lock, so nothing may register once the relay,
// the app or the window runs. A kind registered twice is a programming
// error.
func Register(p *Provider) {
	if byKind[p.Kind] != nil {
		panic("provider: kind " + string(p.Kind) + " registered twice")
	}
	table = append(table, p)
	byKind[p.Kind] = p
}

// byKind indexes table. The relay looks a kind up on every request.
var byKind = func() map[pool.Kind]*Provider {
	m := make(map[pool.Kind]*Provider, len(table))
	for _, p := range table {
		m[p.Kind] = p
	}
	return m
}()

// For is the provider of kind k, or nil for a kind this build does not know.
func For(k pool.Kind) *Provider { return byKind[k] }

// Known reports whether k is a kind this build serves.
func Known(k pool.Kind) bool { return byKind[k] != nil }

// All lists every kind's provider, in the order they are shown.
func All() []*Provider { return slices.Clone(table) }

// Kinds lists every kind, in the order they are shown.
func Kinds() []pool.Kind {
	out := make([]pool.Kind, len(table))
	for i, p := range table {
		out[i] = p.Kind
	}
	return out
}

// ByLogin is the kind `keypool login NAME` logs in to, or nil.
func ByLogin(name string) *Provider {
	for _, p := range table {
		if slices.Contains(p.LoginNames, name) {
			return p
		}
	}
	return nil
}

// IsOAuth reports whether accounts of kind k log in with OAuth; false for
// an unknown kind.
func IsOAuth(k pool.Kind) bool {
	p := byKind[k]
	return p != nil && p.IsOAuth()
}

// Serves reports whether account a answers protocol proto; false for an
// account of a kind this build does not know.
func Serves(a pool.Account, proto pool.Protocol) bool {
	p := byKind[a.Kind]
	return p != nil && p.ServesAccount(a, proto)
}

// baseOr is an account's API URL, or def when it has none.
func baseOr(def string) func(pool.Account) string {
	return func(a pool.Account) string {
		if a.APIURL != "" {
			return a.APIURL
		}
		return def
	}
}
