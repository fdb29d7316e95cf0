package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"keypool/relay"
	"keypool/relay/guard"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
	"keypool/relay/sched"
)

// keys hands each account the key "key-<id>".
type keys struct{}

func (keys) Credential(_ context.Context, id string) (relay.Credential, error) {
	return relay.Credential{APIKey: "sk-ant-test-" + id}, nil
}

// sink collects usage records.
type sink struct {
	mu   sync.Mutex
	recs []relay.UsageRecord
}

func (s *sink) Record(r relay.UsageRecord) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

func (s *sink) all() []relay.UsageRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]relay.UsageRecord(nil), s.recs...)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// harness is a relay in front of fake upstreams, one per account.
type harness struct {
	t     *testing.T
	srv   *relay.Server
	http  *httptest.Server
	ups   map[string]*relaytest.Upstream
	sink  *sink
	clock *clock
	binds *sched.MemoryBindings
}

type acct struct {
	id   string
	prio int
	dead bool // api_url points at a closed port
}

func newHarness(t *testing.T, accts []acct, mod func(*relay.Config)) *harness {
	t.Helper()
	h := &harness{t: t, ups: map[string]*relaytest.Upstream{}, sink: &sink{},
		clock: &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}, binds: &sched.MemoryBindings{}}
	var accounts []pool.Account
	for _, a := range accts {
		url := relaytest.DeadAddr()
		if !a.dead {
			u := relaytest.New()
			t.Cleanup(u.Close)
			h.ups[a.id] = u
			url = u.URL
		}
		accounts = append(accounts, pool.Account{ID: a.id, Name: a.id, Kind: pool.KindClaudeAPI,
			Priority: a.prio, Enabled: true, APIURL: url})
	}
	cfg := relay.Config{
		Accounts: accounts, Credentials: keys{}, Bindings: h.binds, Usage: h.sink,
		ClientKeys: []string{"local-key"}, ListenHost: "127.0.0.1", Now: h.clock.Now,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxThrottleWait: -1,
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	h.http = httptest.NewServer(srv)
	t.Cleanup(h.http.Close)
	t.Cleanup(srv.Close)
	return h
}

// post sends a Messages request and returns the answer with its body read.
func (h *harness) post(body string, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	return h.do("POST", "/v1/messages", body, hdr)
}

func (h *harness) do(method, path, body string, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.http.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("x-api-key", "local-key")
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("content-type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// served returns which upstream got the request number n (1-based) overall.
func (h *harness) counts() map[string]int {
	out := map[string]int{}
	for id, u := range h.ups {
		out[id] = u.Count()
	}
	return out
}

func (h *harness) health() relay.Health { return h.srv.Health() }

func (h *harness) account(id string) relay.AccountHealth {
	h.t.Helper()
	for _, a := range h.health().Accounts {
		if a.ID == id {
			return a
		}
	}
	h.t.Fatalf("no account %q", id)
	return relay.AccountHealth{}
}

const simple = `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`

func body(model string, sessionText string) string {
	b, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 100,
		"messages": []any{map[string]any{"role": "user", "content": sessionText}}})
	return string(b)
}

func errorType(t *testing.T, b string) string {
	t.Helper()
	var e struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal([]byte(b), &e); err != nil || e.Type != "error" {
		t.Fatalf("not an Anthropic error body: %q (%v)", b, err)
	}
	return e.Error.Type
}

var _ = errors.New

func keyHash(k string) string {
	return strings.TrimPrefix(guardKeyID(k), "key-")
}

var guardKeyID = guard.KeyID
