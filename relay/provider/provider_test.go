package provider

import (
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"keypool/relay/failover"
	"keypool/relay/pool"
)

// TestEveryKindIsWhole walks every kind through the table: a kind missing a
// piece fails here, not on the first request that needs it.
func TestEveryKindIsWhole(t *testing.T) {
	apis := []API{APIAnthropic, APIResponses, APIChat, APIGemini, APICodeAssist}
	logins := map[string]pool.Kind{}
	for _, p := range All() {
		t.Run(string(p.Kind), func(t *testing.T) {
			for what, missing := range map[string]bool{
				"Label": p.Label == "", "Vendor": p.Vendor == "", "Mark.Letter": p.Mark.Letter == "", "Mark.RGB": p.Mark.RGB == 0,
				"Protocols": len(p.Protocols) == 0, "Base": p.Base == nil, "Auth": p.Auth == nil, "NewTap": p.NewTap == nil,
				"JSONUsage": p.JSONUsage == nil, "Classify": p.Classify == nil, "StreamOpening": p.StreamOpening == nil,
			} {
				if missing {
					t.Errorf("%s has no %s", p.Kind, what)
				}
			}
			if !slices.Contains(apis, p.API) {
				t.Errorf("%s: API = %q, want one of %v", p.Kind, p.API, apis)
			}
			if p.IsOAuth() && p.LoginLabel == "" {
				t.Errorf("%s logs in with a browser but has no LoginLabel for the window's login dialog", p.Kind)
			}
			if p.IsOAuth() {
				o := p.OAuth()
				if o.Name == "" || o.ClientID == "" || o.AuthorizeURL == "" || o.TokenURL == "" {
					t.Errorf("%s: its login %q lacks a name, client id or endpoint", p.Kind, o.Name)
				}
				if p.DeviceLogin && o.DeviceCodeURL == "" {
					t.Errorf("%s: DeviceLogin is set but its login %q has no device-code endpoint", p.Kind, o.Name)
				}
			}
			if got, want := p.IsOAuth(), len(p.LoginNames) > 0; got != want {
				t.Errorf("%s: IsOAuth() = %v but LoginNames = %v: an OAuth kind needs a login name and only it", p.Kind, got, p.LoginNames)
			}
			for _, n := range p.LoginNames {
				if other, dup := logins[n]; dup {
					t.Errorf("login name %q is both %s's and %s's", n, other, p.Kind)
				}
				logins[n] = p.Kind
				if got := ByLogin(n); got != p {
					t.Errorf("ByLogin(%q) = %v, want %s", n, got, p.Kind)
				}
			}
			if got := For(p.Kind); got != p {
				t.Errorf("For(%s) = %v, want the table's row", p.Kind, got)
			}
			if p.NewTap() == nil {
				t.Errorf("%s: NewTap() = nil", p.Kind)
			}
			// Without an api_url, a kind with a default upstream has one.
			if base := p.Base(pool.Account{Kind: p.Kind}); (base == "") != p.NeedsAPIURL {
				t.Errorf("%s: Base without api_url = %q, NeedsAPIURL = %v", p.Kind, base, p.NeedsAPIURL)
			}
			if base := p.Base(pool.Account{Kind: p.Kind, APIURL: "http://127.0.0.1:9"}); base != "http://127.0.0.1:9" {
				t.Errorf("%s: Base with api_url = %q, want the account's", p.Kind, base)
			}
		})
	}
	if got, want := len(Kinds()), len(All()); got != want {
		t.Errorf("len(Kinds()) = %d, want %d", got, want)
	}
}

// TestWhatEachKindServes pins which client protocols each kind answers,
// and where conversion comes in.
func TestWhatEachKindServes(t *testing.T) {
	all := pool.Protocols
	tests := []struct {
		kind      pool.Kind
		serves    []pool.Protocol
		optInChat bool
		api       API
	}{
		{pool.KindClaudeAPI, []pool.Protocol{pool.ProtocolAnthropic, pool.ProtocolChat}, false, APIAnthropic},
		{pool.KindClaudeOAuth, []pool.Protocol{pool.ProtocolAnthropic}, true, APIAnthropic},
		{pool.KindCodexOAuth, []pool.Protocol{pool.ProtocolResponses}, false, APIResponses},
		{pool.KindOpenAIResponses, []pool.Protocol{pool.ProtocolResponses}, false, APIResponses},
		{pool.KindOpenAICompatible, []pool.Protocol{pool.ProtocolChat}, false, APIChat},
		{pool.KindGemini, []pool.Protocol{pool.ProtocolGemini}, false, APICodeAssist},
		{pool.KindGeminiAPI, []pool.Protocol{pool.ProtocolGemini}, false, APIGemini},
	}
	if len(tests) != len(All()) {
		t.Fatalf("the test covers %d kinds, the table has %d: add the new kind here", len(tests), len(All()))
	}
	for _, tt := range tests {
		p := For(tt.kind)
		if p == nil {
			t.Fatalf("For(%s) = nil", tt.kind)
		}
		if p.API != tt.api {
			t.Errorf("%s: API = %q, want %q", tt.kind, p.API, tt.api)
		}
		for _, proto := range all {
			want := slices.Contains(tt.serves, proto)
			if got := Serves(pool.Account{Kind: tt.kind}, proto); got != want {
				t.Errorf("Serves(%s, %s) = %v, want %v", tt.kind, proto, got, want)
			}
			optIn := want || proto == pool.ProtocolChat && tt.optInChat
			if got := Serves(pool.Account{Kind: tt.kind, ConvertedTraffic: true}, proto); got != optIn {
				t.Errorf("Serves(%s with converted traffic, %s) = %v, want %v", tt.kind, proto, got, optIn)
			}
		}
		if got, want := p.Converts(pool.ProtocolChat), tt.api == APIAnthropic; got != want {
			t.Errorf("%s: Converts(chat) = %v, want %v", tt.kind, got, want)
		}
	}
	if Serves(pool.Account{Kind: "claude-web"}, pool.ProtocolAnthropic) || Known("claude-web") || IsOAuth("claude-web") {
		t.Error("an unknown kind serves, is known or logs in; want none of these")
	}
}

// TestAuthPresentsTheSecret: each kind's credential replaces the client's
// (the relay's own key must never go upstream) in the header its API reads.
func TestAuthPresentsTheSecret(t *testing.T) {
	tests := []struct {
		acct   pool.Account
		header string
		want   string
	}{
		{pool.Account{Kind: pool.KindClaudeAPI}, "X-Api-Key", "s3cret"},
		{pool.Account{Kind: pool.KindClaudeAPI, AuthHeader: pool.AuthBearer}, "Authorization", "Bearer s3cret"},
		{pool.Account{Kind: pool.KindClaudeOAuth}, "Authorization", "Bearer s3cret"},
		{pool.Account{Kind: pool.KindCodexOAuth, ProviderAccountID: "acc-1"}, "Authorization", "Bearer s3cret"},
		{pool.Account{Kind: pool.KindOpenAIResponses}, "Authorization", "Bearer s3cret"},
		{pool.Account{Kind: pool.KindOpenAICompatible}, "Authorization", "Bearer s3cret"},
		{pool.Account{Kind: pool.KindGemini}, "Authorization", "Bearer s3cret"},
		{pool.Account{Kind: pool.KindGeminiAPI}, "X-Goog-Api-Key", "s3cret"},
	}
	for _, tt := range tests {
		// The relay strips the client's credential headers before Auth; a
		// kind's Auth must still replace the one its own API reads.
		h := http.Header{"X-Api-Key": {"relay-key"}, "Authorization": {"Bearer relay-key"}}
		if p := For(tt.acct.Kind); p.API == APIGemini || p.API == APICodeAssist {
			h.Set("X-Goog-Api-Key", "relay-key")
		}
		For(tt.acct.Kind).Auth(h, tt.acct, "s3cret")
		if got := h.Get(tt.header); got != tt.want {
			t.Errorf("%s (auth %q): %s = %q, want %q", tt.acct.Kind, tt.acct.AuthHeader, tt.header, got, tt.want)
		}
		for k, vs := range h {
			for _, v := range vs {
				if v == "relay-key" || v == "Bearer relay-key" {
					t.Errorf("%s: the client's credential is still sent upstream as %s", tt.acct.Kind, k)
				}
			}
		}
	}
	h := http.Header{}
	For(pool.KindClaudeOAuth).Auth(h, pool.Account{Kind: pool.KindClaudeOAuth}, "tok")
	if got := h.Get("Anthropic-Beta"); got == "" {
		t.Error("a Claude subscription's request has no anthropic-beta; want the OAuth beta")
	}
}

// TestPlanQuotaByKind: plan windows are read for the kinds that have plans,
// from their own provider's headers only.
func TestPlanQuotaByKind(t *testing.T) {
	h := http.Header{}
	h.Set("Anthropic-Ratelimit-Unified-5h-Utilization", "0.5")
	h.Set("Anthropic-Ratelimit-Unified-5h-Reset", "1764172800")
	h.Set("X-Codex-Primary-Used-Percent", "20")
	h.Set("X-Codex-Primary-Window-Minutes", "300")
	want := map[pool.Kind][]pool.Quota{
		pool.KindClaudeOAuth:     {{Window: "5h", Utilization: 0.5, ResetsAt: time.Unix(1764172800, 0)}},
		pool.KindClaudeAPI:       {{Window: "5h", Utilization: 0.5, ResetsAt: time.Unix(1764172800, 0)}},
		pool.KindCodexOAuth:      {{Window: "5h", Utilization: 0.2}},
		pool.KindOpenAIResponses: {{Window: "5h", Utilization: 0.2}},
	}
	for _, p := range All() {
		var got []pool.Quota
		if p.PlanQuota != nil {
			got = p.PlanQuota(h)
		}
		if !reflect.DeepEqual(got, want[p.Kind]) {
			t.Errorf("%s: plan quota = %+v, want %+v", p.Kind, got, want[p.Kind])
		}
	}
}

// TestClassifyIsPerKind: one signature, each kind its own table. A 429
// with a per-model quota cools one family for Claude, and the whole account
// for OpenAI, whose limits are per account.
func TestClassifyIsPerKind(t *testing.T) {
	now := time.Unix(1764000000, 0)
	pol := failover.Policy{RateLimitCooldown: time.Minute, UnavailableCooldown: time.Hour, OverloadCooldown: 30 * time.Second}
	for _, p := range All() {
		v := p.Classify(http.StatusOK, http.Header{}, nil, pool.FamilyOf("claude-opus-4"), now, pol)
		if v.Action != failover.Pass {
			t.Errorf("%s: 200 → %+v, want Pass", p.Kind, v)
		}
		v = p.Classify(http.StatusUnauthorized, http.Header{}, nil, pool.FamilyAll, now, pol)
		if v.Action != failover.Next || v.Reason != pool.ReasonUnavailable {
			t.Errorf("%s: 401 → %+v, want Next for unavailable", p.Kind, v)
		}
	}
}
