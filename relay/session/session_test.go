package session

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestFromUserID(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"json_form", `{"device_id":"4f1a","account_uuid":"","session_id":"0e4c9d2a-5b7f-4c1e-9a3d-1f2e3d4c5b6a"}`, "0e4c9d2a-5b7f-4c1e-9a3d-1f2e3d4c5b6a"},
		{"old_form", "user_" + "ab12cd34" + "_account_1b2c3d4e-0000-0000-0000-000000000000_session_0e4c9d2a-5b7f-4c1e-9a3d-1f2e3d4c5b6a", "0e4c9d2a-5b7f-4c1e-9a3d-1f2e3d4c5b6a"},
		{"old_form_empty_account", "user_ab12_account__session_abcdef01-2345", "abcdef01-2345"},
		{"json_without_session", `{"device_id":"x"}`, ""},
		{"json_with_junk_session", `{"session_id":"../../etc"}`, ""},
		{"plain_user", "alice", ""},
		{"empty", "", ""},
		{"bad_json", `{"session_id":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromUserID(tt.in); got != tt.want {
				t.Errorf("FromUserID(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func parse(t *testing.T, s string) *Request {
	t.Helper()
	var r Request
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestIDOrder(t *testing.T) {
	h := http.Header{}
	body := parse(t, `{"metadata":{"user_id":"{\"session_id\":\"aaaa\"}"},"messages":[{"role":"user","content":"hi"}]}`)
	if got := ID(h, body); got != "cc:aaaa" {
		t.Errorf("ID from user_id = %q, want cc:aaaa", got)
	}
	h.Set(HeaderClaudeCode, "bbbb")
	if got := ID(h, body); got != "cc:bbbb" {
		t.Errorf("ID with the header and user_id = %q, want cc:bbbb (the header first)", got)
	}
	noMeta := parse(t, `{"messages":[{"role":"user","content":"hi"}]}`)
	if got := ID(http.Header{}, noMeta); len(got) != 3+32 || got[:3] != "fp:" {
		t.Errorf("ID without metadata = %q, want fp: and 32 hex digits", got)
	}
	if got := ID(http.Header{}, parse(t, `{"messages":[]}`)); got != "" {
		t.Errorf("ID of an empty conversation = %q, want \"\"", got)
	}
}

// The fingerprint depends on the text of the first turn only: later turns
// and cache_control markers do not change it, a different first turn does.
func TestFingerprint(t *testing.T) {
	a := Fingerprint(parse(t, `{"system":"be brief","messages":[{"role":"user","content":"write a parser"}]}`))
	b := Fingerprint(parse(t, `{"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],
		"messages":[{"role":"user","content":[{"type":"text","text":"write a parser"}]},{"role":"assistant","content":"ok"},{"role":"user","content":"more"}]}`))
	c := Fingerprint(parse(t, `{"system":"be brief","messages":[{"role":"user","content":"write a lexer"}]}`))
	if a != b {
		t.Errorf("same first turn: fingerprints %s and %s, want them equal", a, b)
	}
	if a == c {
		t.Errorf("different first turns: fingerprints %s and %s, want them to differ", a, c)
	}
}

func FuzzFromUserID(f *testing.F) {
	for _, s := range []string{`{"session_id":"ab-12"}`, "user_x_account__session_ab-12", "", "_session_", `{"session_id":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id := FromUserID(s)
		if id != "" && !validID(id) {
			t.Fatalf("FromUserID(%q) = %q, want a valid id or \"\"", s, id)
		}
	})
}
