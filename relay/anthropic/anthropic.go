// Package anthropic is the relay's adapter for Anthropic's Messages API and
// Claude-compatible upstreams: where a request goes, how an account's key is
// presented, how anthropic-beta is merged, where usage is read, and how an
// error is written in Anthropic's own error format.
package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keypool/relay/pool"
	"keypool/relay/sse"
	"keypool/relay/wire"
)

// DefaultBaseURL is Anthropic's API.
const DefaultBaseURL = "https://api.anthropic.com"

// SetAuth presents key the way the account's upstream expects it, after
// removing whatever credential the client sent to the relay.
func SetAuth(h http.Header, how pool.AuthHeader, key string) {
	h.Del("X-Api-Key")
	h.Del("Authorization")
	if how == pool.AuthBearer {
		h.Set("Authorization", "Bearer "+key)
		return
	}
	h.Set("X-Api-Key", key)
}

// MergeBeta returns the anthropic-beta value that keeps every beta the client
// asked for, in its order, and adds the ones the account needs that are
// missing. An added beta goes right after "claude-code-20250219" when the
// client sent it (where Claude Code itself puts the OAuth beta), else last.
func MergeBeta(client []string, need ...string) string {
	var out []string
	seen := make(map[string]bool)
	for _, v := range client {
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" && !seen[b] {
				seen[b] = true
				out = append(out, b)
			}
		}
	}
	for _, b := range need {
		if seen[b] {
			continue
		}
		seen[b] = true
		at := len(out)
		for i, v := range out {
			if v == "claude-code-20250219" {
				at = i + 1
			}
		}
		out = append(out, "")
		copy(out[at+1:], out[at:])
		out[at] = b
	}
	return strings.Join(out, ",")
}

// OAuthBeta is the beta an OAuth (subscription) token needs on every call.
const OAuthBeta = "oauth-2025-04-20"

// wireUsage is Anthropic's usage object.
type wireUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// merge keeps the last value seen per field: message_delta's counts are
// cumulative and may repeat or omit message_start's.
func (w *wireUsage) mergeInto(u *pool.Usage) {
	set := func(dst *int64, src *int64) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.InputTokens, w.InputTokens)
	set(&u.RawInputTokens, w.InputTokens) // Anthropic's input already leaves cache out
	set(&u.OutputTokens, w.OutputTokens)
	set(&u.CacheWriteTokens, w.CacheCreationInputTokens)
	set(&u.CacheReadTokens, w.CacheReadInputTokens)
}

// ResponseUsage reads model and usage from a non-streaming Messages answer.
// Only those two values are decoded: usage sits at the end of the message
// and model near its start, so the content in between is never parsed.
func ResponseUsage(body []byte) (model string, u pool.Usage, ok bool) {
	i := bytes.LastIndex(body, []byte(`"usage"`))
	if i < 0 {
		return "", u, false
	}
	var w wireUsage
	if valueAfter(body[i+len(`"usage"`):], &w) != nil {
		return "", u, false
	}
	w.mergeInto(&u)
	if j := bytes.Index(body, []byte(`"model"`)); j >= 0 {
		valueAfter(body[j+len(`"model"`):], &model)
	}
	return model, u, true
}

// valueAfter decodes the JSON value (an object or a string) that follows a
// key's closing quote, cutting it out first so nothing else is scanned.
func valueAfter(b []byte, v any) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != ':' {
		return errNoValue
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	n := valueLen(b)
	if n == 0 {
		return errNoValue
	}
	return json.Unmarshal(b[:n], v)
}

// valueLen returns the length of the JSON object or string at the start of
// b, or 0 if there is none or it is cut short.
func valueLen(b []byte) int {
	if len(b) == 0 || (b[0] != '{' && b[0] != '"') {
		return 0
	}
	depth, inStr := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
				if depth == 0 {
					return i + 1
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

var errNoValue = errors.New("no value after key")

// StreamTap reads usage and a mid-stream error from Messages stream events.
// Only message_start, message_delta and error events are decoded.
type StreamTap struct {
	Model string
	Usage pool.Usage
	Error string // error.type of an error event, if one came
}

// Result is what the stream reported: model, usage and an error type.
func (t *StreamTap) Result() (string, pool.Usage, string) { return t.Model, t.Usage, t.Error }

// Event looks at one raw SSE event.
func (t *StreamTap) Event(ev []byte) {
	name := sse.Field(ev, "event")
	switch {
	case bytes.Equal(name, []byte("message_delta")):
		var d struct {
			Usage *wireUsage `json:"usage"`
		}
		if json.Unmarshal(sse.Field(ev, "data"), &d) == nil && d.Usage != nil {
			d.Usage.mergeInto(&t.Usage)
		}
	case bytes.Equal(name, []byte("message_start")):
		var s struct {
			Message struct {
				Model string     `json:"model"`
				Usage *wireUsage `json:"usage"`
			} `json:"message"`
		}
		if json.Unmarshal(sse.Field(ev, "data"), &s) == nil {
			t.Model = s.Message.Model
			if s.Message.Usage != nil {
				s.Message.Usage.mergeInto(&t.Usage)
			}
		}
	case bytes.Equal(name, []byte("error")):
		var e struct {
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		if json.Unmarshal(sse.Field(ev, "data"), &e) == nil {
			t.Error = e.Error.Type
		}
	}
}

// ErrorType is Anthropic's error.type for an HTTP status.
func ErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return "not_found_error"
	case http.StatusConflict:
		return "conflict_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	return "api_error"
}

// errorBody is Anthropic's error JSON for status.
func errorBody(status int, msg string) []byte {
	body, _ := json.Marshal(struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}{Type: "error", Error: struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}{ErrorType(status), msg}})
	return body
}

// ErrorEvent is the stream event that reports an error after the 200, as
// the API sends one: "event: error" with the error body of status.
func ErrorEvent(status int, msg string) []byte {
	return sse.Event("error", errorBody(status, msg))
}

// WriteError answers in Anthropic's error format. A non-zero retryAfter adds
// a retry-after header (whole seconds, at least 1).
func WriteError(w http.ResponseWriter, status int, msg string, retryAfter time.Duration) {
	wire.WriteError(w, status, errorBody(status, msg), retryAfter)
}

// ErrorBody is the parts of an upstream error answer the failover table reads.
type ErrorBody struct {
	Type      string // error.type
	Message   string // error.message
	ErrorCode string // error.details.error_code
}

// ParseError reads an Anthropic error body; unknown shapes give the zero value.
func ParseError(body []byte) ErrorBody {
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Details struct {
				ErrorCode string `json:"error_code"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ErrorBody{}
	}
	return ErrorBody{e.Error.Type, e.Error.Message, e.Error.Details.ErrorCode}
}

// planWindows are the unified (subscription) windows Anthropic reports,
// in the order they are shown.
var planWindows = []string{"5h", "7d", "7d_oi", "7d_opus", "7d_sonnet"}

// PlanQuota reads a subscription's plan windows from an answer's
// anthropic-ratelimit-unified-* headers. It looks for the family first, so
// an answer without them costs two lookups.
func PlanQuota(h http.Header) []pool.Quota {
	if h.Get("Anthropic-Ratelimit-Unified-Status") == "" && h.Get("Anthropic-Ratelimit-Unified-5h-Utilization") == "" {
		return nil
	}
	var out []pool.Quota
	for _, w := range planWindows {
		p := "Anthropic-Ratelimit-Unified-" + w + "-"
		util, ok := wire.ParseFloat(h.Get(p + "Utilization"))
		if !ok {
			continue
		}
		status := h.Get(p + "Status")
		if util > 1 && !strings.EqualFold(status, "rejected") {
			// Anthropic sends a fraction, above 1 only for a window
			// already spent, which it rejects; a mirror that sends a
			// percentage sends 42 for 42%.
			util /= 100
		}
		out = append(out, pool.Quota{Window: w, Utilization: util, ResetsAt: wire.EpochTime(h.Get(p + "Reset")), Status: status})
	}
	return out
}

// StreamOpening judges an event at the start of a Messages stream:
// message_start and ping open it, an error event before any content block
// fails it (overloaded_error, api_error), anything else is content.
func StreamOpening(ev []byte) sse.Opening {
	switch string(sse.Field(ev, "event")) {
	case "message_start", "ping":
		return sse.Preamble
	case "error":
		return sse.Failed
	}
	return sse.Content
}

// ReadOverage reads a subscription's extra usage (paid overage) from an
// answer's anthropic-ratelimit-unified-* headers; ok is false when the
// answer carries none of that family.
//
// What the headers mean, and how it was checked (PROTOCOLS.md §2.4, §11):
// header sets captured from live Pro/Max accounts and posted in the public
// issue threads of several usage monitors and relays (mid-2026), and the
// same facts in the fields Claude Code reports in its rate_limit_event
// (status, resetsAt, rateLimitType, overageStatus, overageDisabledReason,
// isUsingOverage), as third-party code that reads them shows; Keypool has
// seen no live account answer, so the tests use these captured sets:
//
//   - Serving on extra usage: -status allowed, -representative-claim
//     overage, -overage-in-use true, -overage-status allowed (or
//     allowed_warning), -overage-utilization 0..1, -overage-reset and
//     -reset in unix seconds. The -5h-* and -7d-* headers are absent then.
//   - Claude Code's own client also reads -status rejected with
//     -overage-status allowed or allowed_warning as "served from overage";
//     both shapes count here.
//   - Extra usage closed: -overage-status rejected with
//     -overage-disabled-reason (out_of_credits, org_level_disabled…); a
//     request that only overage could serve is then refused (429).
//   - A representative claim ending in _overage_included
//     (seven_day_overage_included, window 7d_oi) is credit included in the
//     plan: $0 out of pocket, not paid overage.
//
// Until is the plan's reset (-reset), when answers are free again; without
// one, the overage's own reset.
func ReadOverage(h http.Header) (o pool.Overage, ok bool) {
	const p = "Anthropic-Ratelimit-Unified-"
	status := h.Get(p + "Status")
	ostatus := strings.ToLower(h.Get(p + "Overage-Status"))
	claim := strings.ToLower(h.Get(p + "Representative-Claim"))
	inUse := h.Get(p + "Overage-In-Use")
	if status == "" && ostatus == "" && inUse == "" {
		return o, false
	}
	o.Status, o.DisabledReason = ostatus, h.Get(p+"Overage-Disabled-Reason")
	o.Utilization, _ = wire.ParseFloat(h.Get(p + "Overage-Utilization"))
	overageOpen := ostatus == "allowed" || ostatus == "allowed_warning"
	switch {
	case strings.HasSuffix(claim, "_overage_included"):
		// Credit the plan includes: not billed.
	case strings.EqualFold(inUse, "true"), claim == "overage" && overageOpen,
		strings.EqualFold(status, "rejected") && overageOpen:
		o.InUse = true
	}
	o.Until = wire.EpochTime(h.Get(p + "Reset"))
	if o.Until.IsZero() {
		o.Until = wire.EpochTime(h.Get(p + "Overage-Reset"))
	}
	return o, true
}

// OutOfExtraUsage reports whether an error message says the account has no
// extra usage left ("You're out of extra usage…", seen as a 400 to OAuth
// traffic from third-party harnesses, PROTOCOLS.md §11): a fault of the
// account, not of the request.
func OutOfExtraUsage(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "out of extra usage")
}

// WriteSpent answers 429 as a subscription whose plan is spent answers
// (PROTOCOLS.md §11): rate_limit_error, with anthropic-ratelimit-unified-
// status rejected, its reset (back, unix seconds) and representative claim,
// and retry-after. Claude Code reads these headers and shows its own
// usage-limit message with the reset time, rather than a generic error.
// The claim is five_hour when back is within five hours, else seven_day.
//
// Checked with Claude Code 2.1.337 against Keypool (2026-12-07): signed in
// with a token as a subscriber (CLAUDE_CODE_OAUTH_TOKEN) it prints "You've
// hit your 5-hour limit · resets 5:23pm (UTC)", as it does for the same
// headers from the provider itself; with ANTHROPIC_AUTH_TOKEN (an API user)
// it ignores them for any server and prints "API Error: Request rejected
// (429) · " and the message, which then carries the time.
func WriteSpent(w http.ResponseWriter, msg string, back time.Time, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Anthropic-Ratelimit-Unified-Status", "rejected")
	h.Set("Anthropic-Ratelimit-Unified-Reset", strconv.FormatInt(back.Unix(), 10))
	claim := "five_hour"
	if retryAfter > 5*time.Hour {
		claim = "seven_day"
	}
	h.Set("Anthropic-Ratelimit-Unified-Representative-Claim", claim)
	WriteError(w, http.StatusTooManyRequests, msg, retryAfter)
}
