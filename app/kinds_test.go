package app

import (
	"testing"

	"keypool/relay/pool"
	"keypool/relay/provider"
)

// TestEveryOAuthKindCanLogIn: a kind the table says logs in with a browser
// gets its row's login from ProviderFor; an API-key kind has none.
func TestEveryOAuthKindCanLogIn(t *testing.T) {
	for _, p := range provider.All() {
		got, err := ProviderFor(p.Kind)
		switch {
		case p.IsOAuth() && err != nil:
			t.Errorf("ProviderFor(%s) = %v, want its row's login", p.Kind, err)
		case p.IsOAuth() && got.Name != p.OAuth().Name:
			t.Errorf("ProviderFor(%s).Name = %q, want %q", p.Kind, got.Name, p.OAuth().Name)
		case !p.IsOAuth() && err == nil:
			t.Errorf("ProviderFor(%s) = %q, want an error: it uses an API key", p.Kind, got.Name)
		}
	}
}

// TestKindFacade: the window's labels, marks and protocols come from the
// table, and an unknown type is shown as written.
func TestKindFacade(t *testing.T) {
	for _, p := range provider.All() {
		if got := KindLabel(p.Kind); got != p.Label {
			t.Errorf("KindLabel(%s) = %q, want %q", p.Kind, got, p.Label)
		}
		if l, rgb, ok := KindMark(p.Kind); !ok || l != p.Mark.Letter || rgb != p.Mark.RGB {
			t.Errorf("KindMark(%s) = %q %06x %v, want %q %06x true", p.Kind, l, rgb, ok, p.Mark.Letter, p.Mark.RGB)
		}
		if got := KindVendor(p.Kind); got != p.Vendor || got == "" {
			t.Errorf("KindVendor(%s) = %q, want %q", p.Kind, got, p.Vendor)
		}
		if got := KindIsOAuth(p.Kind); got != p.IsOAuth() {
			t.Errorf("KindIsOAuth(%s) = %v, want %v", p.Kind, got, p.IsOAuth())
		}
	}
	if got := KindLabel("claude-web"); got != "claude-web" {
		t.Errorf(`KindLabel("claude-web") = %q, want it as written`, got)
	}
	if got := KindVendor("claude-web"); got != "" {
		t.Errorf(`KindVendor("claude-web") = %q, want ""`, got)
	}
	if _, _, ok := KindMark("claude-web"); ok {
		t.Error(`KindMark("claude-web") ok = true, want false`)
	}
	if !KindServes(KindClaudeAPI, pool.ProtocolChat) || KindServes(KindClaudeOAuth, pool.ProtocolChat) {
		t.Error("KindServes: want claude-api to serve chat and claude-oauth not (it opts in per account)")
	}
}

// TestLoginNames: keypool login's names come from the table, both ways.
func TestLoginNames(t *testing.T) {
	for name, want := range map[string]Kind{"claude": KindClaudeOAuth, "codex": KindCodexOAuth, "chatgpt": KindCodexOAuth, "gemini": KindGemini, "google": KindGemini} {
		if got, ok := LoginKind(name); !ok || got != want {
			t.Errorf("LoginKind(%q) = %q, %v; want %q, true", name, got, ok, want)
		}
	}
	if got, ok := LoginKind("openai"); ok {
		t.Errorf(`LoginKind("openai") = %q, true; want not found`, got)
	}
	for typ, want := range map[Kind]string{KindClaudeOAuth: "claude", KindCodexOAuth: "codex", KindGemini: "gemini", KindClaudeAPI: ""} {
		if got := LoginName(typ); got != want {
			t.Errorf("LoginName(%s) = %q, want %q", typ, got, want)
		}
	}
}

// A Google login serves through a Code Assist project; the others have
// none to find.
func TestBrowserLoginsSayWhoNeedsAProject(t *testing.T) {
	for _, l := range BrowserLogins() {
		if want := l.Kind == KindGemini; l.Project != want {
			t.Errorf("%s: Project = %v, want %v", l.Kind, l.Project, want)
		}
	}
}
