// Package session finds the conversation a request belongs to, so the relay
// can keep it on the account that holds its prompt cache: Claude Code's
// session header, then metadata.user_id in both its formats, then a
// fingerprint of the conversation's first turn.
package session

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// HeaderClaudeCode is the header Claude Code sends with its session id.
const HeaderClaudeCode = "X-Claude-Code-Session-Id"

// Request is the part of a Messages request body that session ids and
// routing read. Unknown fields are ignored.
type Request struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Metadata struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
	System   json.RawMessage `json:"system"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

// ID returns the session key of a request, or "" when it has none. Keys are
// prefixed by their origin so ids of different kinds never collide.
func ID(h http.Header, req *Request) string {
	if v := strings.TrimSpace(h.Get(HeaderClaudeCode)); v != "" {
		return ClaudeCodeKey(v)
	}
	if req == nil {
		return ""
	}
	if id := FromUserID(req.Metadata.UserID); id != "" {
		return ClaudeCodeKey(id)
	}
	if fp := Fingerprint(req); fp != "" {
		return "fp:" + fp
	}
	return ""
}

// ClaudeCodeKey is the session key of Claude Code session id: the id its
// requests carry and its status line is given.
func ClaudeCodeKey(id string) string { return "cc:" + id }

// FromUserID extracts the session id from metadata.user_id: the JSON form
// {"device_id":…,"session_id":…} (Claude Code 2.1.78 and later) or the older
// user_<hex>_account_<uuid>_session_<uuid>.
func FromUserID(uid string) string {
	uid = strings.TrimSpace(uid)
	if strings.HasPrefix(uid, "{") {
		var v struct {
			SessionID string `json:"session_id"`
		}
		if json.Unmarshal([]byte(uid), &v) == nil && validID(v.SessionID) {
			return v.SessionID
		}
		return ""
	}
	i := strings.LastIndex(uid, "_session_")
	if i < 0 {
		return ""
	}
	if id := uid[i+len("_session_"):]; validID(id) {
		return id
	}
	return ""
}

// validID accepts the uuid-like ids Claude Code uses: hex digits and dashes.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-') {
			return false
		}
	}
	return true
}

// Fingerprint hashes the text of the system prompt and the first message:
// the parts of a conversation that stay the same from turn to turn. Only
// text is hashed, so moving cache_control markers does not change it.
func Fingerprint(req *Request) string {
	if len(req.Messages) == 0 {
		return ""
	}
	h := sha256.New()
	writeText(h, req.System)
	h.Write([]byte{1}) // between system and first message
	writeText(h, req.Messages[0].Content)
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// writeText writes the text of a string or an array of content blocks.
func writeText(w interface{ Write([]byte) (int, error) }, raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		w.Write([]byte(s))
		w.Write([]byte{0})
		return
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) == nil {
		for _, b := range blocks {
			if b.Type == "text" {
				w.Write([]byte(b.Text))
				w.Write([]byte{0})
			}
		}
	}
}
