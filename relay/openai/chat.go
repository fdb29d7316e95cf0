package openai

import (
	"bytes"
	"encoding/json"

	"keypool/relay/pool"
	"keypool/relay/sse"
)

// chatUsage is Chat Completions' usage object. prompt_tokens includes
// cached tokens.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func (c chatUsage) usage() pool.Usage {
	return pool.Usage{
		InputTokens:     max(c.PromptTokens-c.PromptTokensDetails.CachedTokens, 0),
		OutputTokens:    c.CompletionTokens,
		CacheReadTokens: c.PromptTokensDetails.CachedTokens,
		RawInputTokens:  c.PromptTokens,
	}
}

type chatResponse struct {
	Model string     `json:"model"`
	Usage *chatUsage `json:"usage"`
}

// ChatUsage reads model and usage from a chat.completion answer.
func ChatUsage(body []byte) (model string, u pool.Usage, ok bool) {
	var r chatResponse
	if json.Unmarshal(body, &r) != nil || r.Usage == nil {
		return "", u, false
	}
	return r.Model, r.Usage.usage(), true
}

// ChatTap reads usage from the chunk that carries it (sent when the client
// asked for stream_options.include_usage).
type ChatTap struct {
	model string
	usage pool.Usage
}

// Event looks at one raw SSE event.
func (t *ChatTap) Event(ev []byte) {
	data := sse.Field(ev, "data")
	if !bytes.Contains(data, []byte(`"usage":{`)) && !bytes.Contains(data, []byte(`"usage": {`)) {
		return
	}
	var r chatResponse
	if json.Unmarshal(data, &r) == nil && r.Usage != nil {
		t.usage = r.Usage.usage()
		t.model = r.Model
	}
}

// Result is what the stream reported.
func (t *ChatTap) Result() (string, pool.Usage, string) { return t.model, t.usage, "" }
