package relay_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// oauthCreds hands out access tokens "at-N" and refreshes on demand.
type oauthCreds struct {
	mu        sync.Mutex
	n         int
	refreshes int
	dead      bool
}

func (c *oauthCreds) Credential(_ context.Context, id string) (relay.Credential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id != "sub" {
		return relay.Credential{APIKey: "sk-ant-test-" + id}, nil
	}
	return relay.Credential{APIKey: fmt.Sprintf("at-%d", c.n)}, nil
}

func (c *oauthCreds) Refresh(_ context.Context, id string, stale relay.Credential) (relay.Credential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshes++
	if c.dead {
		return relay.Credential{}, fmt.Errorf("account %s: %w: invalid_grant", id, pool.ErrNeedsLogin)
	}
	c.n++
	return relay.Credential{APIKey: fmt.Sprintf("at-%d", c.n)}, nil
}

func oauthHarness(t *testing.T, creds *oauthCreds) *harness {
	h := newHarness(t, []acct{{id: "sub", prio: 100}, {id: "key", prio: 10}}, func(c *relay.Config) { c.Credentials = creds })
	h.srv.SetAccounts([]pool.Account{
		{ID: "sub", Kind: pool.KindClaudeOAuth, Priority: 100, Enabled: true, APIURL: h.ups["sub"].URL},
		{ID: "key", Kind: pool.KindClaudeAPI, Priority: 10, Enabled: true, APIURL: h.ups["key"].URL},
	})
	return h
}

// A subscription account sends its access token as a bearer token and adds
// the OAuth beta right after Claude Code's own.
func TestOAuthAccountHeaders(t *testing.T) {
	h := oauthHarness(t, &oauthCreds{})
	resp, _ := h.post(simple, map[string]string{"anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"})
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	got := h.ups["sub"].Requests()[0].Header
	if got.Get("Authorization") != "Bearer at-0" || got.Get("X-Api-Key") != "" {
		t.Errorf("auth headers: %v", got)
	}
	if b := got.Get("Anthropic-Beta"); b != "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14" {
		t.Errorf("anthropic-beta = %q", b)
	}
}

// A 401 refreshes the token once and retries on the same account.
func TestOAuth401RefreshesAndRetries(t *testing.T) {
	creds := &oauthCreds{}
	h := oauthHarness(t, creds)
	h.ups["sub"].Push(relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "OAuth token has expired")})
	resp, _ := h.post(simple, nil)
	if resp.StatusCode != 200 || h.ups["key"].Count() != 0 {
		t.Fatalf("status %d, key account used %d times", resp.StatusCode, h.ups["key"].Count())
	}
	reqs := h.ups["sub"].Requests()
	if len(reqs) != 2 || reqs[1].Header.Get("Authorization") != "Bearer at-1" || creds.refreshes != 1 {
		t.Errorf("retry: %d requests, second auth %q, refreshes %d", len(reqs), reqs[len(reqs)-1].Header.Get("Authorization"), creds.refreshes)
	}
	// Still 401 after the refresh: the account is left, once.
	h.ups["sub"].Push(relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "x")},
		relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "x")})
	if resp, _ := h.post(simple, nil); resp.StatusCode != 200 || h.ups["key"].Count() != 1 || creds.refreshes != 2 {
		t.Errorf("second 401: status %d, key used %d, refreshes %d", resp.StatusCode, h.ups["key"].Count(), creds.refreshes)
	}
}

// A refused refresh token puts the account in "needs login" and the request
// goes to the next account.
func TestOAuthNeedsLogin(t *testing.T) {
	creds := &oauthCreds{dead: true}
	h := oauthHarness(t, creds)
	h.ups["sub"].Push(relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "expired")})
	if resp, _ := h.post(simple, nil); resp.StatusCode != 200 || h.ups["key"].Count() != 1 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if st := h.account("sub").State; st != "needs_login" {
		t.Errorf("state = %s, want needs_login", st)
	}
	// An account the app already knows needs login is never tried.
	h.srv.SetAccounts([]pool.Account{
		{ID: "sub", Kind: pool.KindClaudeOAuth, Priority: 100, Enabled: true, APIURL: h.ups["sub"].URL, NeedsLogin: true},
		{ID: "key", Kind: pool.KindClaudeAPI, Priority: 10, Enabled: true, APIURL: h.ups["key"].URL},
	})
	h.clock.Add(2 * 3600e9)
	h.post(simple, nil)
	if h.ups["sub"].Count() != 1 || h.account("sub").State != "needs_login" {
		t.Errorf("needs-login account used (%d calls) or state %s", h.ups["sub"].Count(), h.account("sub").State)
	}
}
