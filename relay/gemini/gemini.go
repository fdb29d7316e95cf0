// Package gemini is the relay's adapter for Google's Generative Language
// API, as Gemini CLI and the genai SDKs speak it: request paths and their
// model segment, the account's key, where usage is read, how an upstream
// error is classified, and how an error is written in Google's format.
package gemini

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"keypool/relay/pool"
	"keypool/relay/sse"
	"keypool/relay/wire"
)

// DefaultBaseURL is the Generative Language API.
const DefaultBaseURL = "https://generativelanguage.googleapis.com"

// Call is a parsed model call: /gemini/{version}/models/{model}:{method}.
type Call struct {
	Version string // v1beta or v1
	Model   string
	Method  string // generateContent, streamGenerateContent, countTokens
}

// ErrBadPath is returned for a path that is not a model call Keypool
// serves, or whose model segment could escape it.
var ErrBadPath = errors.New("not a Gemini model call")

// ParsePath reads a model call from a request path under prefix (for
// example "/gemini"). The model may only hold letters, digits, '.', '_' and
// '-': no slashes, dots-only segments or escapes reach the upstream.
func ParsePath(prefix, path string) (Call, error) {
	rest, ok := strings.CutPrefix(path, prefix+"/")
	if !ok {
		return Call{}, ErrBadPath
	}
	version, rest, ok := strings.Cut(rest, "/")
	if !ok || (version != "v1beta" && version != "v1") {
		return Call{}, ErrBadPath
	}
	rest, ok = strings.CutPrefix(rest, "models/")
	if !ok {
		return Call{}, ErrBadPath
	}
	model, method, ok := strings.Cut(rest, ":")
	if !ok || !validModel(model) {
		return Call{}, ErrBadPath
	}
	switch method {
	case "generateContent", "streamGenerateContent", "countTokens":
	default:
		return Call{}, ErrBadPath
	}
	return Call{Version: version, Model: model, Method: method}, nil
}

func validModel(m string) bool {
	if m == "" || len(m) > 128 || strings.Trim(m, ".") == "" {
		return false
	}
	for _, c := range m {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// UpstreamQuery is the client's query without its relay key.
func UpstreamQuery(raw string) string {
	if raw == "" || !strings.Contains(raw, "key=") {
		return raw
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	q.Del("key")
	return q.Encode()
}

// SetAuth presents the account's API key, replacing the client's.
func SetAuth(h http.Header, key string) {
	h.Del("Authorization")
	h.Del("X-Api-Key")
	h.Set("X-Goog-Api-Key", key)
}

// Request is the part of a generateContent request the relay reads.
type Request struct {
	SystemInstruction *Content  `json:"systemInstruction"`
	Contents          []Content `json:"contents"`
}

// Content is a turn of a conversation.
type Content struct {
	Role  string `json:"role"`
	Parts []struct {
		Text string `json:"text"`
	} `json:"parts"`
}

// SessionID fingerprints a conversation by its system instruction and first
// turn: Gemini CLI sends no session id, and these stay the same from turn to
// turn.
func SessionID(req *Request) string {
	if req == nil || len(req.Contents) == 0 {
		return ""
	}
	h := sha256.New()
	if req.SystemInstruction != nil {
		for _, p := range req.SystemInstruction.Parts {
			h.Write([]byte(p.Text))
			h.Write([]byte{0})
		}
	}
	h.Write([]byte{1})
	for _, p := range req.Contents[0].Parts {
		h.Write([]byte(p.Text))
		h.Write([]byte{0})
	}
	return "gemini:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// wireUsage is usageMetadata. promptTokenCount includes cached tokens.
type wireUsage struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
}

func (w wireUsage) usage() pool.Usage {
	return pool.Usage{
		InputTokens:     max(w.PromptTokenCount-w.CachedContentTokenCount, 0),
		OutputTokens:    w.CandidatesTokenCount + w.ThoughtsTokenCount,
		CacheReadTokens: w.CachedContentTokenCount,
		RawInputTokens:  w.PromptTokenCount,
	}
}

type wireResponse struct {
	ModelVersion  string     `json:"modelVersion"`
	UsageMetadata *wireUsage `json:"usageMetadata"`
}

// ResponseUsage reads usage from a generateContent answer.
func ResponseUsage(body []byte) (model string, u pool.Usage, ok bool) {
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '[' {
		// streamGenerateContent without alt=sse: an array of chunks, each
		// with the running totals; the last whole one counts, so a stream
		// that broke off still tells what it used.
		dec := json.NewDecoder(bytes.NewReader(b))
		if _, err := dec.Token(); err != nil {
			return "", u, false
		}
		for dec.More() {
			var r wireResponse
			if dec.Decode(&r) != nil {
				break
			}
			if r.UsageMetadata != nil {
				model, u, ok = r.ModelVersion, r.UsageMetadata.usage(), true
			}
		}
		return model, u, ok
	}
	var r wireResponse
	if json.Unmarshal(body, &r) != nil || r.UsageMetadata == nil {
		return "", u, false
	}
	return r.ModelVersion, r.UsageMetadata.usage(), true
}

// StreamTap keeps the last usageMetadata of a streamGenerateContent stream:
// each chunk repeats the running totals.
type StreamTap struct {
	model string
	usage pool.Usage
}

// Event looks at one raw SSE event (data lines only).
func (t *StreamTap) Event(ev []byte) {
	data := sse.Data(ev)
	if !bytes.Contains(data, []byte(`"usageMetadata"`)) {
		return
	}
	var r wireResponse
	if json.Unmarshal(data, &r) == nil && r.UsageMetadata != nil {
		t.usage = r.UsageMetadata.usage()
		if r.ModelVersion != "" {
			t.model = r.ModelVersion
		}
	}
}

// Result is what the stream reported.
func (t *StreamTap) Result() (string, pool.Usage, string) { return t.model, t.usage, "" }

// status names Google's canonical code for an HTTP status.
func status(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return "NOT_FOUND"
	case http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable, 529:
		return "UNAVAILABLE"
	}
	return "INTERNAL"
}

// WriteError answers in Google's error format. A 429 is RESOURCE_EXHAUSTED
// with a RetryInfo delay: Gemini CLI 0.61.0, given a spent pool with a
// two-hour delay, stops with its own TerminalQuotaError and "Suggested
// retry after 7500s" (checked against Keypool, 2026-12-07); a short delay
// it waits out and retries.
func WriteError(w http.ResponseWriter, code int, msg string, retryAfter time.Duration) {
	e := map[string]any{"code": code, "message": msg, "status": status(code)}
	if retryAfter > 0 {
		e["details"] = []any{map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo",
			"retryDelay": strconv.FormatInt(wire.RetrySeconds(retryAfter), 10) + "s"}}
	}
	body, _ := json.Marshal(map[string]any{"error": e})
	wire.WriteError(w, code, body, retryAfter)
}

// ErrorEvent is a stream chunk (alt=sse) carrying an error after the 200,
// in Google's error format.
func ErrorEvent(code int, msg string) []byte {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status(code)}})
	return sse.Event("", body)
}

// ErrorBody is the parts of a Google error the failover table reads.
type ErrorBody struct {
	Status     string
	Reason     string        // ErrorInfo.reason: RATE_LIMIT_EXCEEDED, QUOTA_EXHAUSTED…
	Daily      bool          // a QuotaFailure violation of a per-day quota
	RetryDelay time.Duration // RetryInfo.retryDelay
}

// ParseError reads a google.rpc error body.
func ParseError(body []byte) ErrorBody {
	var e struct {
		Error struct {
			Status  string `json:"status"`
			Details []struct {
				Type       string `json:"@type"`
				Reason     string `json:"reason"`
				RetryDelay string `json:"retryDelay"`
				Violations []struct {
					QuotaID string `json:"quotaId"`
				} `json:"violations"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ErrorBody{}
	}
	out := ErrorBody{Status: e.Error.Status}
	for _, d := range e.Error.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo"):
			out.Reason = d.Reason
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil {
				out.RetryDelay = dur
			}
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure"):
			for _, v := range d.Violations {
				if strings.Contains(v.QuotaID, "PerDay") || strings.Contains(v.QuotaID, "Daily") {
					out.Daily = true
				}
			}
		}
	}
	return out
}

// DefaultCodeAssistBase is Gemini Code Assist's endpoint (Google logins).
const DefaultCodeAssistBase = "https://cloudcode-pa.googleapis.com"

// CodeAssistPath is the upstream path of a call for a Google login.
func CodeAssistPath(c Call) string {
	p := "/v1internal:" + c.Method
	if c.Method == "streamGenerateContent" {
		p += "?alt=sse"
	}
	return p
}

// WrapCodeAssist puts a public-API request body into Code Assist's
// envelope: {model, project, user_prompt_id, request}; countTokens takes
// {request: {model: "models/…", contents}}.
func WrapCodeAssist(c Call, project string, body []byte) ([]byte, error) {
	if c.Method == "countTokens" {
		var in struct {
			Contents json.RawMessage `json:"contents"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"request": map[string]any{"model": "models/" + c.Model, "contents": in.Contents}})
	}
	if !json.Valid(body) {
		return nil, errors.New("request body is not valid JSON")
	}
	sum := sha256.Sum256(body)
	return json.Marshal(map[string]any{"model": c.Model, "project": project,
		"user_prompt_id": "keypool-" + hex.EncodeToString(sum[:8]), "request": json.RawMessage(body)})
}

// UnwrapCodeAssist takes the public-API answer out of Code Assist's
// {"response": …} envelope; other bodies (countTokens) come back as they are.
func UnwrapCodeAssist(body []byte) []byte {
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Response) > 0 {
		return env.Response
	}
	return body
}

// UnwrapCodeAssistEvent rewrites one Code Assist SSE event as the public
// API's: "data: <response>\n\n".
func UnwrapCodeAssistEvent(out, ev []byte) ([]byte, error) {
	data := sse.Data(ev)
	if data == nil {
		return out, nil // comments and keep-alives carry nothing
	}
	out = append(out, "data: "...)
	out = append(out, UnwrapCodeAssist(data)...)
	return append(out, "\n\n"...), nil
}

// StreamOpening judges a Gemini stream's first event (alt=sse), bare or in
// Code Assist's envelope: one that carries an error fails the stream; any
// other is content.
func StreamOpening(ev []byte) sse.Opening {
	if wire.HasErrorField(sse.Data(ev)) {
		return sse.Failed
	}
	return sse.Content
}
