package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"keypool/relay"
	"keypool/relay/pool"
)

func withProfiles(ps ...relay.Profile) func(*relay.Config) {
	return func(c *relay.Config) { c.Profiles = ps }
}

// A profile's key is served only by the profile's accounts, failing over
// inside it and answering as an exhausted pool when they are all out; a key
// without a profile sees the whole pool.
func TestProfileServesOnlyItsAccounts(t *testing.T) {
	h := newHarness(t, []acct{{id: "home", prio: 200}, {id: "w1", prio: 100}, {id: "w2", prio: 50}},
		withProfiles(relay.Profile{Name: "work", Accounts: []string{"w1", "w2"}, Key: "work-profile-key"}))
	work := map[string]string{"x-api-key": "work-profile-key"}

	if got := h.postAndWho(simple, nil); got != "home" {
		t.Errorf("the general key was served by %q, want home (the whole pool)", got)
	}
	const sess = "5e55e55e-0000-0000-0000-000000000001"
	if got := h.postAndWho(body("claude-sonnet-4-5", "work 1"), map[string]string{"x-api-key": "work-profile-key", "X-Claude-Code-Session-Id": sess}); got != "w1" {
		t.Errorf("the profile key was served by %q, want w1", got)
	}
	if v := h.srv.Session(sess); v.Account != "w1" || v.Profile != "work" {
		t.Errorf("the session's view (the status line's) = %+v, want w1 under profile work", v)
	}
	recs := h.sink.all()
	if r := recs[len(recs)-1]; r.Profile != "work" {
		t.Errorf("record's profile = %q, want work", r.Profile)
	}
	// w1 is spent: failover inside the profile.
	h.ups["w1"].Default = spentReply(h.clock.Now().Add(time.Hour))
	if got := h.postAndWho(body("claude-sonnet-4-5", "work 2"), work); got != "w2" {
		t.Errorf("with w1 spent the profile was served by %q, want w2", got)
	}
	// Both spent: the profile's clients get the spent pool's answer, through
	// the SDK, while home still serves everyone else.
	h.ups["w2"].Default = spentReply(h.clock.Now().Add(2 * time.Hour))
	client := anthropic.NewClient(option.WithBaseURL(h.http.URL), option.WithAPIKey("work-profile-key"), option.WithMaxRetries(0))
	_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("work 3"))}})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Anthropic-Ratelimit-Unified-Status") != "rejected" {
		t.Errorf("profile with every account out: %v", err)
	}
	if n := h.ups["home"].Count(); n != 1 {
		t.Errorf("home got %d requests, want only the general key's one", n)
	}
	if got := h.postAndWho(body("claude-sonnet-4-5", "home 2"), nil); got != "home" {
		t.Errorf("the general key was served by %q, want home", got)
	}
}

// Profile keys alone leave a relay on loopback open: a request with no key
// is served by the whole pool, one with a profile's key by the profile.
func TestProfileKeysKeepAnOpenRelayOpen(t *testing.T) {
	h := newHarness(t, []acct{{id: "home", prio: 200}, {id: "w1", prio: 100}}, func(c *relay.Config) {
		c.ClientKeys = nil
		c.Profiles = []relay.Profile{{Name: "work", Accounts: []string{"w1"}, Key: "work-profile-key"}}
	})
	for _, tt := range []struct {
		hdr  map[string]string
		want string
	}{
		{map[string]string{"x-api-key": ""}, "home"},
		{map[string]string{"x-api-key": "not-a-known-key"}, "home"},
		{map[string]string{"x-api-key": "work-profile-key"}, "w1"},
		{map[string]string{"x-api-key": "", "Authorization": "Bearer work-profile-key"}, "w1"},
	} {
		if got := h.postAndWho(body("claude-sonnet-4-5", tt.want+tt.hdr["x-api-key"]), tt.hdr); got != tt.want {
			t.Errorf("%v: served by %q, want %q", tt.hdr, got, tt.want)
		}
	}
}

// A profile whose accounts are all disabled or gone says so, in the
// client's format.
func TestProfileWithoutAccounts(t *testing.T) {
	h := newHarness(t, []acct{{id: "home", prio: 1}},
		withProfiles(relay.Profile{Name: "empty", Accounts: []string{"gone"}, Key: "empty-profile-key"}))
	resp, b := h.post(simple, map[string]string{"x-api-key": "empty-profile-key"})
	if resp.StatusCode != 503 || !strings.Contains(b, "no enabled account of profile empty") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
	if h.ups["home"].Count() != 0 {
		t.Error("an account outside the profile served it")
	}
}

// Codex reads no project config, but says in each request where its
// session started: a folder route serves the sessions started in a
// project (or below it) with the project's profile.
func TestFolderRouteServesCodexByWhereItRuns(t *testing.T) {
	h := newHarness(t, []acct{{id: "home", prio: 200}, {id: "job", prio: 1}}, func(c *relay.Config) {
		for i := range c.Accounts {
			c.Accounts[i].Kind = pool.KindOpenAIResponses
		}
		c.Profiles = []relay.Profile{{Name: "work", Accounts: []string{"job"}, Key: "work-profile-key"}}
	})
	h.srv.SetFolderRoutes([]relay.FolderRoute{{Dir: "/home/me/work", Profile: "work"}, {Dir: "/home/me/work/side", Profile: "none"}})
	codex := func(cwd string) string {
		// As Codex writes it: no HTML escapes.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(map[string]any{"model": "gpt-5", "input": []any{map[string]any{"type": "message", "role": "user",
			"content": []any{map[string]any{"type": "input_text", "text": "<environment_context>\n  <cwd>" + cwd + "</cwd>\n</environment_context>"}}}}})
		resp, body := h.do("POST", "/openai/v1/responses", b.String(), map[string]string{"Authorization": "Bearer local-key"})
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", cwd, resp.StatusCode, body)
		}
		return resp.Header.Get(relay.HeaderAccount)
	}
	for _, tt := range []struct{ cwd, want string }{
		{"/home/me/work", "job"},
		{"/home/me/work/api", "job"},
		{"/home/me/workshop", "home"}, // not inside the project
		{"/home/me/other", "home"},
		{`/home/me/work/with "quote"`, "job"},
	} {
		if got := codex(tt.cwd); got != tt.want {
			t.Errorf("a session started in %s was served by %q, want %q", tt.cwd, got, tt.want)
		}
	}
	recs := h.sink.all()
	if r := recs[0]; r.Profile != "work" {
		t.Errorf("record's profile = %q, want work", r.Profile)
	}
}
