package relay_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// responsesHarness has a Codex (ChatGPT login) account preferred over an
// OpenAI API key, plus a Claude key that must never see Responses traffic.
func responsesHarness(t *testing.T) *harness {
	h := newHarness(t, []acct{{id: "chatgpt", prio: 100}, {id: "apikey", prio: 50}, {id: "claude", prio: 200}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "chatgpt", Kind: pool.KindCodexOAuth, Priority: 100, Enabled: true, APIURL: h.ups["chatgpt"].URL + "/backend-api/codex", ProviderAccountID: "acct-123"},
		{ID: "apikey", Kind: pool.KindOpenAIResponses, Priority: 50, Enabled: true, APIURL: h.ups["apikey"].URL + "/v1"},
		{ID: "claude", Kind: pool.KindClaudeAPI, Priority: 200, Enabled: true, APIURL: h.ups["claude"].URL},
	})
	return h
}

// The official OpenAI Go SDK works through /openai/v1, streaming and not.
func TestOpenAISDKResponses(t *testing.T) {
	h := responsesHarness(t)
	client := openai.NewClient(option.WithBaseURL(h.http.URL+"/openai/v1"), option.WithAPIKey("local-key"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: "gpt-5.4", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}

	h.ups["chatgpt"].Push(relaytest.Reply{Body: relaytest.Response("gpt-5.4", "hello", 20, 5, 3)})
	res, err := client.Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputText() != "hello" || res.Usage.InputTokens != 20 {
		t.Errorf("response = %+v", res)
	}
	up := h.ups["chatgpt"].Requests()[0]
	if up.Path != "/backend-api/codex/responses" || up.Header.Get("Authorization") != "Bearer sk-ant-test-chatgpt" ||
		up.Header.Get("Chatgpt-Account-Id") != "acct-123" || up.Header.Get("Originator") == "" {
		t.Errorf("upstream saw %s %v", up.Path, up.Header)
	}

	h.ups["chatgpt"].Push(relaytest.Reply{Events: relaytest.ResponseStream("gpt-5.4", []string{"a", "b", "c"}, 100, 40, 7)})
	stream := client.Responses.NewStreaming(ctx, params)
	text := ""
	completed := false
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.output_text.delta":
			text += ev.Delta
		case "response.completed":
			completed = true
		}
	}
	if err := stream.Err(); err != nil || text != "abc" || !completed {
		t.Fatalf("stream: %q completed=%v err=%v", text, completed, err)
	}
	recs := waitRecords(t, h.sink, 2)
	want := relay.Usage{InputTokens: 60, CacheReadTokens: 40, OutputTokens: 7, RawInputTokens: 100}
	if r := recs[1]; r.Route != "responses" || r.Usage != want || r.Account != "chatgpt" {
		t.Errorf("record = %+v, want usage %+v", r, want)
	}
	if h.ups["claude"].Count() != 0 {
		t.Error("a Claude account got Responses traffic")
	}

	// Errors come back in OpenAI's format.
	bad := openai.NewClient(option.WithBaseURL(h.http.URL+"/openai/v1"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err = bad.Responses.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v", err)
	}
}

// A ChatGPT plan's usage limit cools the account until the reset it names,
// and the request moves to the API key without the client noticing.
func TestResponsesFailover(t *testing.T) {
	h := responsesHarness(t)
	reset := h.clock.Now().Add(3 * time.Hour)
	h.ups["chatgpt"].Push(relaytest.Reply{Status: 429, Body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":` + strconv.FormatInt(reset.Unix(), 10) + `}}`})
	resp, _ := h.do("POST", "/openai/v1/responses", `{"model":"gpt-5.4","input":"hi"}`, nil)
	if resp.StatusCode != 200 || h.ups["apikey"].Count() != 1 {
		t.Fatalf("status %d, api key used %d", resp.StatusCode, h.ups["apikey"].Count())
	}
	a := h.account("chatgpt")
	if len(a.Cooldowns) != 1 || a.Cooldowns[0].Reason != "quota" || !endsAt(a.Cooldowns[0], reset.Add(2*time.Second)) {
		t.Errorf("chatgpt cooldowns = %+v", a.Cooldowns)
	}
	// Both out: an OpenAI-format 429 with retry-after.
	h.ups["apikey"].Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "20"}, Body: relaytest.OpenAIError("rate_limit_error", "rate_limit_exceeded", "slow down")})
	resp, b := h.do("POST", "/openai/v1/responses", `{"model":"gpt-5.4","input":"hi"}`, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "20" || !contains(b, `"type":"rate_limit_error"`) {
		t.Errorf("all out: %d %s", resp.StatusCode, b)
	}
	// context_length_exceeded is the request's fault: passed through.
	h.clock.Add(time.Minute)
	h.ups["apikey"].Push(relaytest.Reply{Status: 400, Body: relaytest.OpenAIError("invalid_request_error", "context_length_exceeded", "too long")})
	if resp, _ := h.do("POST", "/openai/v1/responses", `{"model":"gpt-5.4","input":"hi"}`, nil); resp.StatusCode != 400 {
		t.Errorf("client error: %d", resp.StatusCode)
	}
}

// Codex's session id keeps a conversation on one account.
func TestResponsesSticky(t *testing.T) {
	h := newHarness(t, []acct{{id: "k1", prio: 5}, {id: "k2", prio: 5}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "k1", Kind: pool.KindOpenAIResponses, Priority: 5, Enabled: true, APIURL: h.ups["k1"].URL},
		{ID: "k2", Kind: pool.KindOpenAIResponses, Priority: 5, Enabled: true, APIURL: h.ups["k2"].URL},
	})
	for _, hdr := range []map[string]string{{"session-id": "thread-1"}, {"session_id": "thread-2"}} {
		first := ""
		for i := 0; i < 4; i++ {
			n := len(h.sink.all())
			if resp, _ := h.do("POST", "/openai/v1/responses", `{"model":"gpt-5.4","input":"hi"}`, hdr); resp.StatusCode != 200 {
				t.Fatal(resp.Status)
			}
			got := waitRecords(t, h.sink, n+1)[n].Account
			if first == "" {
				first = got
			} else if got != first {
				t.Fatalf("%v: turn %d on %s, bound to %s", hdr, i, got, first)
			}
		}
	}
	// prompt_cache_key works the same way.
	n := len(h.sink.all())
	h.do("POST", "/openai/v1/responses", `{"model":"gpt-5.4","input":"x","prompt_cache_key":"pck-1"}`, nil)
	first := waitRecords(t, h.sink, n+1)[n].Account
	for i := 0; i < 3; i++ {
		h.do("POST", "/openai/v1/responses", `{"model":"gpt-5.4","input":"y","prompt_cache_key":"pck-1"}`, nil)
		if got := waitRecords(t, h.sink, n+2+i)[n+1+i].Account; got != first {
			t.Fatalf("prompt_cache_key turn moved from %s to %s", first, got)
		}
	}
}

// Codex's WebSocket attempt gets a 426 at once, so it falls back to HTTP
// without retrying.
func TestResponsesRefusesWebSocket(t *testing.T) {
	h := responsesHarness(t)
	resp, b := h.do("GET", "/openai/v1/responses", "", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
	if resp.StatusCode != http.StatusUpgradeRequired || !contains(b, `"error"`) {
		t.Fatalf("websocket upgrade: %d %s", resp.StatusCode, b)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
