// Package openai is the relay's adapter for OpenAI's Responses API, as Codex
// CLI speaks it, and for ChatGPT's Codex backend: where a request goes, the
// headers an account adds, where usage is read, how an upstream error is
// classified, and how an error is written in OpenAI's own format.
package openai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keypool/relay/pool"
	"keypool/relay/sse"
	"keypool/relay/wire"
)

// Default base URLs: the Responses API for API keys, and the ChatGPT
// backend Codex uses with a ChatGPT login.
const (
	DefaultAPIBase   = "https://api.openai.com/v1"
	DefaultCodexBase = "https://chatgpt.com/backend-api/codex"
)

// SetAuth presents an API key or access token as a bearer token,
// replacing the client's credential for the relay.
func SetAuth(h http.Header, token string) {
	h.Del("X-Api-Key")
	h.Set("Authorization", "Bearer "+token)
	h.Del("Chatgpt-Account-Id")
}

// SetCodexAuth presents a ChatGPT login's access token: it also names its
// ChatGPT account, and an originator the backend accepts.
func SetCodexAuth(h http.Header, a pool.Account, token string) {
	h.Del("X-Api-Key")
	h.Set("Authorization", "Bearer "+token)
	if a.ProviderAccountID != "" {
		h.Set("Chatgpt-Account-Id", a.ProviderAccountID)
	}
	if h.Get("Originator") == "" {
		h.Set("Originator", "codex_cli_rs")
	}
}

// StreamFault reads an error type reported inside a stream
// (response.failed's): a plan's usage limit is the account's, so it rests
// as for a quota; any other error is the request's or the upstream's.
func StreamFault(errType string) (pool.Reason, bool) {
	if errType == "usage_limit_reached" {
		return pool.ReasonQuota, true
	}
	return "", false
}

// Request is the part of a Responses request the relay reads.
type Request struct {
	Model          string `json:"model"`
	Stream         bool   `json:"stream"`
	PromptCacheKey string `json:"prompt_cache_key"`
}

// SessionID is a Codex conversation's identity: its session header (Codex
// has sent session_id, session-id and thread-id), else prompt_cache_key.
func SessionID(h http.Header, req *Request) string {
	for _, k := range []string{"Session-Id", "Session_id", "Thread-Id"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return "codex:" + v
		}
	}
	if req != nil && req.PromptCacheKey != "" {
		return "codex:" + req.PromptCacheKey
	}
	return ""
}

// wireUsage is the Responses API's usage object. input_tokens includes
// cached tokens.
type wireUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens int64 `json:"output_tokens"`
}

// usage normalises to Keypool's convention: input without cache reads.
func (w wireUsage) usage() pool.Usage {
	return pool.Usage{
		InputTokens:     max(w.InputTokens-w.InputTokensDetails.CachedTokens, 0),
		OutputTokens:    w.OutputTokens,
		CacheReadTokens: w.InputTokensDetails.CachedTokens,
		RawInputTokens:  w.InputTokens,
	}
}

type wireResponse struct {
	Model string     `json:"model"`
	Usage *wireUsage `json:"usage"`
	Error *struct {
		Code string `json:"code"`
		Type string `json:"type"`
	} `json:"error"`
}

// ResponseUsage reads model and usage from a non-streaming response.
func ResponseUsage(body []byte) (model string, u pool.Usage, ok bool) {
	var r wireResponse
	if json.Unmarshal(body, &r) != nil || r.Usage == nil {
		return "", u, false
	}
	return r.Model, r.Usage.usage(), true
}

// StreamTap reads usage from the terminal event of a Responses stream
// (response.completed, .incomplete or .failed) and notes an error event.
type StreamTap struct {
	Model string
	Usage pool.Usage
	Error string
}

// Result is what the stream reported: model, usage and an error.
func (t *StreamTap) Result() (string, pool.Usage, string) { return t.Model, t.Usage, t.Error }

// Event looks at one raw SSE event.
func (t *StreamTap) Event(ev []byte) {
	name := sse.Field(ev, "event")
	if len(name) == 0 {
		name = dataType(sse.Field(ev, "data"))
	}
	switch {
	case bytes.Equal(name, []byte("response.completed")), bytes.Equal(name, []byte("response.incomplete")),
		bytes.Equal(name, []byte("response.failed")):
		var d struct {
			Response wireResponse `json:"response"`
		}
		if json.Unmarshal(sse.Field(ev, "data"), &d) != nil {
			return
		}
		if d.Response.Model != "" {
			t.Model = d.Response.Model
		}
		if d.Response.Usage != nil {
			t.Usage = d.Response.Usage.usage()
		}
		if d.Response.Error != nil {
			t.Error = d.Response.Error.Code
		}
	case bytes.Equal(name, []byte("error")):
		t.Error = "error event"
	}
}

// endEvents are the Responses events that carry usage or an error.
var endEvents = [][]byte{[]byte("response.completed"), []byte("response.incomplete"), []byte("response.failed"), []byte("error")}

// dataType finds the type of an event sent without an event line, as some
// OpenAI-compatible servers do, for the events the tap reads. Other events
// are passed over without parsing their JSON; the key order is the
// server's, so a matching one is parsed for its top-level type.
func dataType(data []byte) []byte {
	for _, n := range endEvents {
		if !bytes.Contains(data, n) {
			continue
		}
		var d struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &d) != nil {
			return nil
		}
		for _, m := range endEvents {
			if d.Type == string(m) {
				return m
			}
		}
		return nil
	}
	return nil
}

// errorType is OpenAI's error.type for a status.
func errorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusMethodNotAllowed:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	}
	return "server_error"
}

// WriteError answers in OpenAI's error format. A non-zero retryAfter adds a
// retry-after header.
func WriteError(w http.ResponseWriter, status int, msg string, retryAfter time.Duration) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": msg, "type": errorType(status), "param": nil, "code": nil,
	}})
	wire.WriteError(w, status, body, retryAfter)
}

// WriteUsageLimit answers 429 as ChatGPT's backend answers a spent plan:
// error.type usage_limit_reached with the reset in resets_at (unix
// seconds) and resets_in_seconds, the fields Codex reads to show its own
// usage-limit message with the time it is back (codex-rs's error struct).
// Checked with codex-cli 0.171.0 against Keypool (2026-12-07): "ERROR:
// You’ve hit your usage limit. Try again at 5:23 PM.", and no retry.
func WriteUsageLimit(w http.ResponseWriter, msg string, back time.Time, retryAfter time.Duration) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"type": "usage_limit_reached", "message": msg, "param": nil, "code": nil,
		"resets_at": back.Unix(), "resets_in_seconds": wire.RetrySeconds(retryAfter),
	}})
	wire.WriteError(w, http.StatusTooManyRequests, body, retryAfter)
}

// FailedEvent is the Responses stream event that ends an answer in error
// after the 200: response.failed, with the error in the response object.
func FailedEvent(status int, msg string) []byte {
	body, _ := json.Marshal(map[string]any{"type": "response.failed", "response": map[string]any{
		"object": "response", "status": "failed",
		"error": map[string]any{"code": "server_error", "message": msg, "type": errorType(status)},
	}})
	return sse.Event("response.failed", body)
}

// ErrorBody is the parts of an upstream error the failover table reads.
type ErrorBody struct {
	Type, Code, Message string
	ResetsAt            time.Time // usage_limit_reached: when the plan window resets
}

// ParseError reads an OpenAI or ChatGPT-backend error body.
func ParseError(body []byte, now time.Time) ErrorBody {
	var e struct {
		Error struct {
			Type            string  `json:"type"`
			Code            any     `json:"code"`
			Message         string  `json:"message"`
			ResetsAt        int64   `json:"resets_at"`
			ResetsInSeconds float64 `json:"resets_in_seconds"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ErrorBody{}
	}
	out := ErrorBody{Type: e.Error.Type, Message: e.Error.Message}
	if s, ok := e.Error.Code.(string); ok {
		out.Code = s
	}
	switch {
	case e.Error.ResetsAt > 0:
		out.ResetsAt = time.Unix(e.Error.ResetsAt, 0)
	case e.Error.ResetsInSeconds > 0:
		out.ResetsAt = now.Add(time.Duration(e.Error.ResetsInSeconds * float64(time.Second)))
	}
	return out
}

// PlanQuota reads a ChatGPT plan's windows from an answer's x-codex-*
// headers. A window is named by the length the provider reports ("5h",
// "7d"), since those lengths have changed; without one it keeps the
// header's own name (primary, secondary).
func PlanQuota(h http.Header) []pool.Quota {
	if h.Get("X-Codex-Primary-Used-Percent") == "" {
		return nil
	}
	var out []pool.Quota
	for _, w := range [...]struct{ name, prefix string }{{"primary", "X-Codex-Primary-"}, {"secondary", "X-Codex-Secondary-"}} {
		pct, ok := wire.ParseFloat(h.Get(w.prefix + "Used-Percent"))
		if !ok {
			continue
		}
		name := w.name
		if mins, ok := wire.ParseFloat(h.Get(w.prefix + "Window-Minutes")); ok {
			name = windowName(time.Duration(mins) * time.Minute)
		}
		out = append(out, pool.Quota{Window: name, Utilization: pct / 100, ResetsAt: wire.EpochTime(h.Get(w.prefix + "Reset-At"))})
	}
	return out
}

// windowName names a window by its length: whole days, else whole hours.
func windowName(d time.Duration) string {
	if d >= 24*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return strconv.Itoa(int(d/time.Hour)) + "h"
}

// StreamOpening judges an event at the start of a Responses stream:
// response.created, response.queued and response.in_progress open it,
// response.failed or error before any output fails it, anything else is
// content.
func StreamOpening(ev []byte) sse.Opening {
	name := sse.Field(ev, "event")
	if name == nil {
		name = dataType(sse.Data(ev))
	}
	switch string(name) {
	case "response.created", "response.queued", "response.in_progress":
		return sse.Preamble
	case "response.failed", "error":
		return sse.Failed
	}
	return sse.Content
}

// ChatOpening judges a chat.completions stream's first chunk: one that
// carries an error fails the stream; any other chunk is content.
func ChatOpening(ev []byte) sse.Opening {
	if wire.HasErrorField(sse.Data(ev)) {
		return sse.Failed
	}
	return sse.Content
}
