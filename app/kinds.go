package app

import (
	"keypool/relay/provider"
)

// KindLabel names account type t for people ("Claude Pro/Max"); an unknown
// type is shown as it is written.
func KindLabel(t Kind) string {
	if p := provider.For(t); p != nil {
		return p.Label
	}
	return string(t)
}

// KindVendor is who provides account type t ("Anthropic", "OpenAI",
// "Google"; for a compatible API, what it is), or "" for a type this build
// does not know.
func KindVendor(t Kind) string {
	if p := provider.For(t); p != nil {
		return p.Vendor
	}
	return ""
}

// KindMark is how account type t is marked for people: a letter on its
// vendor's colour (0xRRGGBB); ok is false for a type this build does not
// know.
func KindMark(t Kind) (letter string, rgb uint32, ok bool) {
	p := provider.For(t)
	if p == nil {
		return "", 0, false
	}
	return p.Mark.Letter, p.Mark.RGB, true
}

// KindServes reports whether every account of type t answers protocol p
// (a subscription's opted-in converted chat aside).
func KindServes(t Kind, p Protocol) bool {
	k := provider.For(t)
	return k != nil && k.Serves(p)
}

// KindIsOAuth reports whether accounts of type t log in with a browser
// (OAuth) rather than hold an API key.
func KindIsOAuth(t Kind) bool { return provider.IsOAuth(t) }

// KindHasOverage reports whether accounts of kind t can answer on paid
// extra usage once their plan is spent (a Claude subscription), so that
// allow_overage means something for them.
func KindHasOverage(t Kind) bool {
	p := provider.For(t)
	return p != nil && p.Overage != nil
}

// LoginKind is the account type `keypool login NAME` logs in to
// ("claude", "codex" or "chatgpt", "gemini" or "google").
func LoginKind(name string) (Kind, bool) {
	if p := provider.ByLogin(name); p != nil {
		return p.Kind, true
	}
	return "", false
}

// LoginName is what `keypool login` calls account type t, or "" for a type
// that does not log in with a browser.
func LoginName(t Kind) string {
	if p := provider.For(t); p != nil && len(p.LoginNames) > 0 {
		return p.LoginNames[0]
	}
	return ""
}

// APIKeyKinds lists the account types added with an API key, in the order
// they are shown: the window's "Add an API key" dialog and keypool
// accounts add --type offer these.
func APIKeyKinds() []Kind {
	var out []Kind
	for _, p := range provider.All() {
		if !p.IsOAuth() {
			out = append(out, p.Kind)
		}
	}
	return out
}

// KindNeedsAPIURL reports whether accounts of type t must name their
// upstream (a compatible service has no default).
func KindNeedsAPIURL(t Kind) bool {
	p := provider.For(t)
	return p != nil && p.NeedsAPIURL
}

// BrowserLogin is an account type that logs in with a browser, as the
// window offers it.
type BrowserLogin struct {
	Kind  Kind
	Label string // "Claude (Pro/Max)"
	// Note is said when its login starts, if anything must be known first.
	Note string
	// Device: it can log in with a device code instead of a browser on
	// this computer.
	Device bool
	// Project: it serves through a Google Cloud project, found after
	// login unless one is named.
	Project bool
}

// BrowserLogins lists the account types that log in with a browser, in
// the order they are shown.
func BrowserLogins() []BrowserLogin {
	var out []BrowserLogin
	for _, p := range provider.All() {
		if p.IsOAuth() {
			out = append(out, BrowserLogin{Kind: p.Kind, Label: p.LoginLabel, Note: p.LoginNote, Device: p.DeviceLogin,
				Project: p.OAuth().NeedsProject()})
		}
	}
	return out
}
