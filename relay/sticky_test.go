package relay_test

import (
	"encoding/json"
	"testing"
	"time"

	"keypool/relay/relaytest"
)

func ccBody(t *testing.T, userID, text string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"model": "claude-sonnet-4-5", "max_tokens": 10,
		"metadata": map[string]any{"user_id": userID},
		"messages": []any{map[string]any{"role": "user", "content": text}}})
	return string(b)
}

func (h *harness) postAndWho(body string, hdr map[string]string) string {
	h.t.Helper()
	n := len(h.sink.all())
	resp, b := h.post(body, hdr)
	if resp.StatusCode != 200 {
		h.t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	recs := waitRecords(h.t, h.sink, n+1)
	return recs[len(recs)-1].Account
}

// Equal accounts share new sessions, but each session stays on its account,
// whichever way it identifies itself.
func TestStickySessionIdentities(t *testing.T) {
	const sess = "0e4c9d2a-5b7f-4c1e-9a3d-1f2e3d4c5b6a"
	tests := []struct {
		name string
		body func(i int) string
		hdr  map[string]string
	}{
		{"claude_code_header", func(i int) string { return body("claude-sonnet-4-5", "turn") }, map[string]string{"X-Claude-Code-Session-Id": sess}},
		{"user_id_json_form", func(i int) string {
			return ccBody(t, `{"device_id":"ab12","account_uuid":"","session_id":"`+sess+`"}`, "turn")
		}, nil},
		{"user_id_old_form", func(i int) string {
			return ccBody(t, "user_"+"aa11bb22"+"_account__session_"+sess, "turn")
		}, nil},
		{"first_turn_fingerprint", func(i int) string {
			// Later turns add messages; the first turn stays the same.
			msgs := []any{map[string]any{"role": "user", "content": "write a parser"}}
			for j := 0; j < i; j++ {
				msgs = append(msgs, map[string]any{"role": "assistant", "content": "ok"},
					map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "more",
						"cache_control": map[string]any{"type": "ephemeral"}}}})
			}
			b, _ := json.Marshal(map[string]any{"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": msgs})
			return string(b)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, []acct{{id: "a", prio: 5}, {id: "b", prio: 5}}, nil)
			first := h.postAndWho(tt.body(0), tt.hdr)
			for i := 1; i < 6; i++ {
				if got := h.postAndWho(tt.body(i), tt.hdr); got != first {
					t.Fatalf("turn %d went to %s, session bound to %s", i, got, first)
				}
			}
		})
	}
}

// Requests without a session spread over equal-priority accounts.
func TestEqualPrioritySpreads(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 5}, {id: "b", prio: 5}, {id: "low", prio: 1}}, nil)
	for i := 0; i < 10; i++ {
		h.post(body("claude-sonnet-4-5", "q"+string(rune('a'+i))), nil)
	}
	c := h.counts()
	if c["a"] == 0 || c["b"] == 0 || c["low"] != 0 {
		t.Errorf("counts = %v: want a and b both used, low unused", c)
	}
}

// A bound session moves when its account fails, and then stays on the new
// account: a recovered higher-priority account does not steal it back.
func TestStickyMovesOnFailureAndIsNotStolenBack(t *testing.T) {
	h := newHarness(t, []acct{{id: "hi", prio: 100}, {id: "lo", prio: 10}}, nil)
	hdr := map[string]string{"X-Claude-Code-Session-Id": "11111111-2222-3333-4444-555555555555"}
	if got := h.postAndWho(simple, hdr); got != "hi" {
		t.Fatalf("first turn on %s", got)
	}
	h.ups["hi"].Push(relaytest.Reply{Status: 529, Body: relaytest.Error("overloaded_error", "Overloaded")})
	if got := h.postAndWho(simple, hdr); got != "lo" {
		t.Fatalf("after hi failed, served by %s", got)
	}
	h.clock.Add(time.Minute) // hi's cooldown is over
	if got := h.postAndWho(simple, hdr); got != "lo" {
		t.Errorf("recovered hi stole the session (served by %s)", got)
	}
	// A new session goes to the preferred account again.
	if got := h.postAndWho(simple, map[string]string{"X-Claude-Code-Session-Id": "99999999-2222-3333-4444-555555555555"}); got != "hi" {
		t.Errorf("new session served by %s, want hi", got)
	}
}

// Another account's cooldown does not move a bound session, and a binding
// expires after the TTL unless renewed.
func TestStickyTTL(t *testing.T) {
	h := newHarness(t, []acct{{id: "hi", prio: 100}, {id: "lo", prio: 10}}, nil)
	hdr := map[string]string{"X-Claude-Code-Session-Id": "abcdef00-0000-0000-0000-000000000000"}
	h.ups["hi"].Push(relaytest.Reply{Status: 500, Body: "x"})
	if got := h.postAndWho(simple, hdr); got != "lo" {
		t.Fatalf("served by %s", got)
	}
	// Renewal: used when less than 5 minutes remain, the 1 h binding keeps living.
	for i := 0; i < 3; i++ {
		h.clock.Add(56 * time.Minute)
		if got := h.postAndWho(simple, hdr); got != "lo" {
			t.Fatalf("after %d renewals served by %s", i+1, got)
		}
	}
	// Unused past the TTL, the session is free again and goes to hi.
	h.clock.Add(61 * time.Minute)
	if got := h.postAndWho(simple, hdr); got != "hi" {
		t.Errorf("expired binding still honoured: served by %s", got)
	}
}

// A client error on the bound account does not move the session.
func TestClientErrorKeepsBinding(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 5}, {id: "b", prio: 5}}, nil)
	hdr := map[string]string{"X-Claude-Code-Session-Id": "12345678-0000-0000-0000-000000000000"}
	first := h.postAndWho(simple, hdr)
	h.ups[first].Push(relaytest.Reply{Status: 400, Body: relaytest.Error("invalid_request_error", "prompt is too long")})
	if resp, _ := h.post(simple, hdr); resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for i := 0; i < 3; i++ {
		if got := h.postAndWho(simple, hdr); got != first {
			t.Fatalf("session moved from %s to %s after a client error", first, got)
		}
	}
}
