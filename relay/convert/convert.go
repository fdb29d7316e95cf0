// Package convert converts an OpenAI chat.completions request into an
// Anthropic Messages request, and Anthropic's answer (JSON or SSE) back into
// OpenAI's format, so OpenAI-compatible apps can be served by Claude accounts.
//
// The mapping follows PROTOCOLS §5. Choices the protocol leaves open:
//
//   - The first non-system message must come from the user; otherwise
//     ChatToMessages returns an *Error rather than inventing a user turn.
//   - System and developer messages anywhere in the conversation are hoisted,
//     in order, into the top-level system blocks.
//   - Consecutive messages of the same role (after tool messages become user
//     turns) are merged; inside a merged user turn the tool_result blocks come
//     first, as Anthropic requires. Empty text parts and messages left with
//     no content are dropped.
//   - Temperature is clamped to Anthropic's range [0, 1]; when temperature and
//     top_p are both set, top_p is dropped.
//   - reasoning_effort minimal/low/medium/high enables thinking with a budget
//     of 1024/1024/4096/16384 tokens. Thinking then drops temperature (and a
//     top_p below 0.95), and if max_tokens does not exceed the budget it is
//     raised to budget+max_tokens, so the client's limit still applies to the
//     visible answer. Thinking is left off when tool_choice forces a tool,
//     which Anthropic rejects.
//   - parallel_tool_calls:false becomes tool_choice.disable_parallel_tool_use.
//   - A streamed tool call whose input arrived empty gets arguments "{}" at
//     its content_block_stop, so clients always receive parseable JSON.
package convert

import (
	"bytes"
	"encoding/json"
	"net/http"

	"keypool/relay/sse"
)

// Options are the per-request choices the relay makes.
type Options struct {
	// DefaultMaxTokens is used when the client sets no max_tokens
	// (Anthropic requires one). Zero means 8192.
	DefaultMaxTokens int
	// ClaudeCodeSystem prepends Claude Code's identity system block, which
	// OAuth subscription accounts require (PROTOCOLS §1.9).
	ClaudeCodeSystem bool
}

// claudeCodeIdentity is the system text an OAuth account's requests must
// start with (PROTOCOLS §1.9).
const claudeCodeIdentity = "You are Claude Code, Anthropic's official CLI for Claude."

const defaultMaxTokens = 8192

// Error is a problem with the client's request. Msg is meant for the client
// and is rendered as an OpenAI 400 invalid_request_error; Param names the
// offending field (for example "messages[2].content[0].type") when known.
type Error struct {
	Msg   string
	Param string
}

func (e *Error) Error() string { return e.Msg }

// Body renders e as an OpenAI-format 400 error body, with its param.
func (e *Error) Body() []byte {
	return errorJSON(http.StatusBadRequest, e.Msg, e.Param, "")
}

// ErrorBody renders an OpenAI-format error JSON for status:
// {"error":{"message","type","param":null,"code"}}.
func ErrorBody(status int, msg string) []byte {
	return errorJSON(status, msg, "", "")
}

// ErrorChunk is a Chat Completions stream chunk carrying an error after the
// 200, as OpenAI sends one: a data line with the error body.
func ErrorChunk(status int, msg string) []byte {
	return sse.Event("", errorJSON(status, msg, "", ""))
}

// errorType gives the OpenAI error type and code for an HTTP status.
func errorType(status int) (typ, code string) {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error", "invalid_api_key"
	case status == http.StatusForbidden:
		return "permission_error", ""
	case status == http.StatusTooManyRequests:
		return "rate_limit_error", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", ""
	default:
		return "invalid_request_error", ""
	}
}

// anthropicErrorStatus maps an Anthropic error type (PROTOCOLS §2.3) to the
// HTTP status that carries it.
func anthropicErrorStatus(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "billing_error":
		return http.StatusPaymentRequired
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "conflict_error":
		return http.StatusConflict
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "overloaded_error":
		return 529
	default:
		return http.StatusInternalServerError
	}
}

// errorJSON renders the OpenAI error object. An empty param or code is null;
// code defaults to the status's code.
func errorJSON(status int, msg, param, code string) []byte {
	typ, defCode := errorType(status)
	if code == "" {
		code = defCode
	}
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: msg, Type: typ}
	if param != "" {
		b.Param = &param
	}
	if code != "" {
		b.Code = &code
	}
	out, err := marshal(struct {
		Error body `json:"error"`
	}{b})
	if err != nil { // cannot happen: only strings
		return []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	return out
}

// marshal encodes v without HTML escaping (prompts stay readable) and
// without the encoder's trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// finishReason maps an Anthropic stop_reason to an OpenAI finish_reason
// (PROTOCOLS §5.2). Unknown reasons end normally.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal", "sensitive":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}

// usage holds Anthropic token counts (PROTOCOLS §2.2).
type usage struct {
	Input         int64
	Output        int64
	CacheCreation int64
	CacheRead     int64
}

// wireUsage is Anthropic's usage object; absent fields stay nil so a later
// event only overwrites what it carries.
type wireUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// merge keeps the last value seen per field.
func (u *usage) merge(w *wireUsage) {
	if w == nil {
		return
	}
	set := func(dst *int64, src *int64) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.Input, w.InputTokens)
	set(&u.Output, w.OutputTokens)
	set(&u.CacheCreation, w.CacheCreationInputTokens)
	set(&u.CacheRead, w.CacheReadInputTokens)
}

func (u usage) prompt() int64 { return u.Input + u.CacheCreation + u.CacheRead }

// openAIUsage is the chat.completion usage object.
type openAIUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func (u usage) openAI() openAIUsage {
	o := openAIUsage{
		PromptTokens:     u.prompt(),
		CompletionTokens: u.Output,
		TotalTokens:      u.prompt() + u.Output,
	}
	o.PromptTokensDetails.CachedTokens = u.CacheRead
	return o
}
