package relay_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"google.golang.org/genai"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// splitBroken checks a stream that broke off: it must end with the relay's
// error event (after whole events from the upstream, unchanged) and then
// break, not end cleanly. It returns the error event.
func splitBroken(t *testing.T, upstream []string, got []byte, readErr error, errPrefix string) string {
	t.Helper()
	if readErr == nil {
		t.Fatalf("stream ended cleanly after %q; want it broken", got)
	}
	i := strings.LastIndex(string(got), errPrefix)
	if i < 0 {
		t.Fatalf("no error event (%q) at the end of %q", errPrefix, got)
	}
	before, ev := string(got[:i]), string(got[i:])
	if !strings.HasPrefix(relaytest.Joined(upstream), before) || (before != "" && !strings.HasSuffix(before, "\n\n")) {
		t.Errorf("before the error event the client got %q, not whole upstream events", before)
	}
	if !strings.Contains(ev, "broke off mid-stream") || !strings.HasSuffix(ev, "\n\n") {
		t.Errorf("error event = %q", ev)
	}
	return ev
}

// An upstream that drops the connection mid-stream: the client gets an
// error event in Anthropic's format, then a broken stream; the official SDK
// reports the error; the usage so far is recorded; no other account is
// tried after the first byte.
func TestUpstreamBreakMidStream(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}, {id: "b", prio: 0}}, nil)
	evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(10), 5, 10, 0, 0)
	h.ups["a"].Push(relaytest.Reply{Events: evs, Break: 4})
	resp := streamReq(t, h, context.Background())
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	ev := splitBroken(t, evs, got, err, "event: error\n")
	if !strings.Contains(ev, `"type":"error","error":{"type":"api_error"`) {
		t.Errorf("error event = %q", ev)
	}
	if h.ups["b"].Count() != 0 {
		t.Error("relay retried after the first byte")
	}
	recs := waitRecords(t, h.sink, 1)
	if recs[0].Usage.InputTokens != 5 || recs[0].Error == "" {
		t.Errorf("record = %+v", recs[0])
	}

	h.ups["a"].Push(relaytest.Reply{Events: evs, Break: 4})
	client := anthropic.NewClient(anthropicopt.WithBaseURL(h.http.URL), anthropicopt.WithAPIKey("local-key"), anthropicopt.WithMaxRetries(0))
	stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 5,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	defer stream.Close()
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "broke off mid-stream") {
		t.Errorf("Anthropic SDK: stream error = %v, want the relay's message", err)
	}
}

// The same for the other client protocols: each gets its own kind of error
// event, and its official SDK reports it.
func TestUpstreamBreakOtherProtocols(t *testing.T) {
	t.Run("responses", func(t *testing.T) {
		h := responsesHarness(t)
		evs := relaytest.ResponseStream("gpt-5.4", []string{"a", "b", "c"}, 100, 40, 7)
		h.ups["chatgpt"].Push(relaytest.Reply{Events: evs, Break: 3})
		resp := postRaw(t, h, context.Background(), "/openai/v1/responses", `{"model":"gpt-5.4","input":"hi","stream":true}`)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ev := splitBroken(t, evs, got, err, "event: response.failed\n")
		if !strings.Contains(ev, `"status":"failed"`) || !strings.Contains(ev, `"code":"server_error"`) {
			t.Errorf("error event = %q", ev)
		}

		h.ups["chatgpt"].Push(relaytest.Reply{Events: evs, Break: 3})
		client := openai.NewClient(option.WithBaseURL(h.http.URL+"/openai/v1"), option.WithAPIKey("local-key"), option.WithMaxRetries(0))
		stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
			Model: "gpt-5.4", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		failed := ""
		for stream.Next() {
			if ev := stream.Current(); ev.Type == "response.failed" {
				failed = ev.Response.Error.Message
			}
		}
		if !strings.Contains(failed, "broke off mid-stream") || stream.Err() == nil {
			t.Errorf("OpenAI SDK: response.failed message %q, stream error %v", failed, stream.Err())
		}
	})
	t.Run("chat", func(t *testing.T) {
		h := chatHarness(t, false)
		evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(10), 5, 10, 0, 0)
		h.ups["key"].Push(relaytest.Reply{Events: evs, Break: 4})
		client := openai.NewClient(option.WithBaseURL(h.http.URL+"/openai/v1"), option.WithAPIKey("local-key"), option.WithMaxRetries(0))
		stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model: "claude-sonnet-4-5", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		for stream.Next() {
		}
		if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "broke off mid-stream") {
			t.Errorf("OpenAI SDK (chat, converted): stream error = %v, want the relay's message", err)
		}
	})
	t.Run("gemini", func(t *testing.T) {
		h := geminiHarness(t)
		evs := relaytest.GeminiStream("gemini-3.5-flash", []string{"a", "b", "c"}, 50, 20)
		h.ups["g1"].Push(relaytest.Reply{Events: evs, Break: 2})
		ctx := context.Background()
		client, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: "local-key", Backend: genai.BackendGeminiAPI,
			HTTPOptions: genai.HTTPOptions{BaseURL: h.http.URL + "/gemini/"}})
		if err != nil {
			t.Fatal(err)
		}
		var streamErr error
		for _, err := range client.Models.GenerateContentStream(ctx, "gemini-3.5-flash", genai.Text("hi"), nil) {
			if err != nil {
				streamErr = err
				break
			}
		}
		if streamErr == nil || !strings.Contains(streamErr.Error(), "broke off mid-stream") {
			t.Errorf("genai SDK: stream error = %v, want the relay's message", streamErr)
		}
	})
}

// A converted stream (chat client, Claude account) that stalls upstream is
// reported as a stall, in the chat format, and recorded as one.
func TestConvertedStreamStall(t *testing.T) {
	h := newHarness(t, []acct{{id: "key", prio: 50}}, func(c *relay.Config) { c.IdleTimeout = 200 * time.Millisecond })
	h.srv.SetAccounts([]pool.Account{{ID: "key", Kind: pool.KindClaudeAPI, Priority: 50, Enabled: true, APIURL: h.ups["key"].URL}})
	evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(5), 5, 10, 0, 0)
	h.ups["key"].Push(relaytest.Reply{Events: evs, Step: relaytest.StallAfterFirstWord()})
	resp := postRaw(t, h, context.Background(), "/openai/v1/chat/completions", `{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("stream ended cleanly: %q", got)
	}
	if !strings.Contains(string(got), `data: {"error":{"message":"Keypool: the upstream answer broke off mid-stream (no data for 200ms)`) {
		t.Errorf("no stall error chunk in %q", got)
	}
	if r := waitRecords(t, h.sink, 1)[0]; !strings.HasPrefix(r.Error, "upstream idle mid-answer") {
		t.Errorf("record error = %q", r.Error)
	}
}
