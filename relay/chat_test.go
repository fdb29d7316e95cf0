package relay_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// chatHarness: a Claude subscription (preferred, but not for converted
// traffic by default) and a Claude API key that answers OpenAI chat by
// conversion.
func chatHarness(t *testing.T, optIn bool) *harness {
	h := newHarness(t, []acct{{id: "sub", prio: 100}, {id: "key", prio: 50}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "sub", Kind: pool.KindClaudeOAuth, Priority: 100, Enabled: true, APIURL: h.ups["sub"].URL, ConvertedTraffic: optIn},
		{ID: "key", Kind: pool.KindClaudeAPI, Priority: 50, Enabled: true, APIURL: h.ups["key"].URL},
	})
	return h
}

// The official OpenAI Go SDK's chat completions, answered by a Claude API
// key through conversion, streaming and not.
func TestOpenAISDKChatConverted(t *testing.T) {
	h := chatHarness(t, false)
	client := openai.NewClient(option.WithBaseURL(h.http.URL+"/openai/v1"), option.WithAPIKey("local-key"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
	}
	h.ups["key"].Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "hello there", 12, 4)})
	res, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 1 || res.Choices[0].Message.Content != "hello there" || res.Choices[0].FinishReason != "stop" || res.Usage.PromptTokens != 12 {
		t.Errorf("completion = %+v", res)
	}
	up := h.ups["key"].Requests()[0]
	if up.Path != "/v1/messages" || up.Header.Get("X-Api-Key") != "sk-ant-test-key" || up.Header.Get("Anthropic-Version") == "" ||
		!strings.Contains(string(up.Body), `"system"`) {
		t.Errorf("upstream saw %s %v %s", up.Path, up.Header, up.Body)
	}
	if h.ups["sub"].Count() != 0 {
		t.Error("a subscription answered converted traffic without opting in")
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	h.ups["key"].Push(relaytest.Reply{Events: relaytest.Stream("claude-sonnet-4-5", []string{"a", "b", "c"}, 9, 3, 0, 0)})
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "abc" || acc.Usage.CompletionTokens != 3 {
		t.Errorf("accumulated = %+v", acc.ChatCompletion)
	}
	recs := waitRecords(t, h.sink, 2)
	if r := recs[1]; r.Route != "chat_completions" || r.Account != "key" || r.Usage != (relay.Usage{InputTokens: 9, OutputTokens: 3, RawInputTokens: 9}) {
		t.Errorf("record = %+v", r)
	}

	// A request Claude cannot take is refused in OpenAI's format.
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "claude-sonnet-4-5", N: openai.Int(2),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Fatalf("n=2: %v", err)
	}
}

// With the opt-in, the subscription answers converted traffic, with Claude
// Code's identity block its token needs.
func TestChatSubscriptionOptIn(t *testing.T) {
	h := chatHarness(t, true)
	resp, b := h.do("POST", "/openai/v1/chat/completions", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != 200 || h.ups["sub"].Count() != 1 {
		t.Fatalf("%d %s, sub used %d", resp.StatusCode, b, h.ups["sub"].Count())
	}
	if body := string(h.ups["sub"].Requests()[0].Body); !strings.Contains(body, "You are Claude Code") {
		t.Errorf("no identity block: %s", body)
	}
}

// An openai-compatible account takes chat as it is; failover moves between
// it and a converted Claude key; models are listed in OpenAI's shape.
func TestChatPassthroughAndModels(t *testing.T) {
	h := newHarness(t, []acct{{id: "compat", prio: 100}, {id: "key", prio: 50}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "compat", Kind: pool.KindOpenAICompatible, Priority: 100, Enabled: true, APIURL: h.ups["compat"].URL + "/v1"},
		{ID: "key", Kind: pool.KindClaudeAPI, Priority: 50, Enabled: true, APIURL: h.ups["key"].URL},
	})
	completion := `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"from compat"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":4}}}`
	h.ups["compat"].Push(relaytest.Reply{Body: completion})
	body := `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`
	resp, b := h.do("POST", "/openai/v1/chat/completions", body, nil)
	if resp.StatusCode != 200 || b != completion {
		t.Fatalf("passthrough: %d %s", resp.StatusCode, b)
	}
	up := h.ups["compat"].Requests()[0]
	if up.Path != "/v1/chat/completions" || up.Header.Get("Authorization") != "Bearer sk-ant-test-compat" || string(up.Body) != body {
		t.Errorf("compat upstream saw %s %q %s", up.Path, up.Header.Get("Authorization"), up.Body)
	}
	if r := waitRecords(t, h.sink, 1)[0]; r.Usage != (relay.Usage{InputTokens: 6, CacheReadTokens: 4, OutputTokens: 2, RawInputTokens: 10}) {
		t.Errorf("usage = %+v", r.Usage)
	}
	// compat is rate-limited: the Claude key answers, converted.
	h.ups["compat"].Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: relaytest.OpenAIError("rate_limit_error", "rate_limit_exceeded", "slow")})
	resp, b = h.do("POST", "/openai/v1/chat/completions", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"again"}]}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(b, `"chat.completion"`) || h.ups["key"].Count() != 1 {
		t.Fatalf("failover to converted: %d %s", resp.StatusCode, b)
	}
	// Models: from the Claude key (compat is cooling), in OpenAI's shape.
	h.ups["key"].Push(relaytest.Reply{Body: `{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Sonnet","created_at":"2025-09-29T00:00:00Z"}],"has_more":false}`})
	resp, b = h.do("GET", "/openai/v1/models", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(b, `"object":"list"`) || !strings.Contains(b, `"id":"claude-sonnet-4-5"`) {
		t.Errorf("models: %d %s", resp.StatusCode, b)
	}
}

// A [models] alias is sent upstream as the real model; a client key limited
// to some models is refused others, in its own protocol's format.
func TestModelMapAndClientModels(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) {
		c.ModelMap = map[string]string{"fast": "claude-haiku-4-5", "gemini-fast": "gemini-3.5-flash"}
		c.ClientModels = map[string][]string{guardKeyID("local-key"): {"claude-haiku-*", "claude-sonnet-*"}}
	})
	if resp, b := h.post(`{"model":"fast","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, nil); resp.StatusCode != 200 {
		t.Fatalf("alias: %d %s", resp.StatusCode, b)
	}
	if got := string(h.ups["a"].Requests()[0].Body); !strings.Contains(got, `"model":"claude-haiku-4-5"`) {
		t.Errorf("upstream body %s", got)
	}
	resp, b := h.post(`{"model":"claude-opus-4-6","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != http.StatusForbidden || errorType(t, b) != "permission_error" || !strings.Contains(b, "not allowed") {
		t.Errorf("disallowed model: %d %s", resp.StatusCode, b)
	}
	resp, b = h.do("POST", "/openai/v1/chat/completions", `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(b, `"error"`) || strings.Contains(b, `"type":"error"`) {
		t.Errorf("disallowed chat model: %d %s", resp.StatusCode, b)
	}
	if h.ups["a"].Count() != 1 {
		t.Errorf("refused requests reached the upstream")
	}
}
