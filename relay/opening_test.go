package relay_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"keypool/relay/relaytest"
)

// overloadedEvent is how Anthropic fails a stream under load: a 200, then
// an error event.
const overloadedEvent = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"

func anthropicStream(t *testing.T, h *harness) (text string, err error) {
	t.Helper()
	client := anthropic.NewClient(aoption.WithBaseURL(h.http.URL), aoption.WithAuthToken("local-key"), aoption.WithMaxRetries(0))
	stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	defer stream.Close()
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			return "", err
		}
	}
	if len(acc.Content) > 0 {
		text = acc.Content[0].Text
	}
	return text, stream.Err()
}

// A stream that fails before its first word (message_start, then an error
// event) moves to the next account: the client, here Anthropic's SDK, sees
// one clean stream from it, and the first account rests as overloaded.
func TestFailedOpeningMovesOn(t *testing.T) {
	h := newHarness(t, []acct{{id: "busy", prio: 2}, {id: "spare", prio: 1}}, nil)
	opening := relaytest.Stream("claude-sonnet-4-5", nil, 3, 1, 0, 0)[:1] // message_start
	h.ups["busy"].Push(relaytest.Reply{Events: append(opening, overloadedEvent)})
	h.ups["spare"].Push(relaytest.Reply{Events: relaytest.Stream("claude-sonnet-4-5", []string{"a", "b", "c"}, 4, 30, 0, 0)})
	text, err := anthropicStream(t, h)
	if err != nil || text != "abc" {
		t.Fatalf("stream = %q, %v; want abc from the spare account, no error", text, err)
	}
	recs := waitRecords(t, h.sink, 1)
	r := recs[0]
	if r.Account != "spare" || r.Status != 200 || len(r.Failover) != 1 || r.Failover[0].Account != "busy" ||
		!strings.Contains(r.Failover[0].Reason, "stream failed before any content: overloaded_error") {
		t.Errorf("record: account %q status %d failover %+v; want spare, 200, one step leaving busy for its overloaded stream", r.Account, r.Status, r.Failover)
	}
	if u := r.Usage; u.InputTokens != 4 || u.OutputTokens != 30 {
		t.Errorf("usage = %+v, want the spare's 4 in, 30 out (the held opening is read for usage too)", u)
	}
	if got := h.account("busy"); got.State != "cooling" || len(got.Cooldowns) != 1 || got.Cooldowns[0].Reason != "overloaded" {
		t.Errorf("busy: state %q cooldowns %+v; want cooling, overloaded", got.State, got.Cooldowns)
	}
}

// Once content has reached the client, a failure is the client's to see, as
// before: an error event in its protocol, and no second account.
func TestFailureAfterFirstWordStays(t *testing.T) {
	h := newHarness(t, []acct{{id: "busy", prio: 2}, {id: "spare", prio: 1}}, nil)
	evs := relaytest.Stream("claude-sonnet-4-5", []string{"a"}, 3, 1, 0, 0)
	h.ups["busy"].Push(relaytest.Reply{Events: append(evs[:4:4], overloadedEvent)}) // start, block, ping, "a"
	text, err := anthropicStream(t, h)
	if err == nil || !strings.Contains(err.Error(), "overloaded_error") || text != "a" {
		t.Errorf("stream = %q, %v; want the word sent, then the overloaded error", text, err)
	}
	if n := h.ups["spare"].Count(); n != 0 {
		t.Errorf("spare account called %d times, want 0", n)
	}
}

// The opening is held back only so far: past openingBytes of events that are
// not yet content, what was held goes to the client, and a later error is
// the client's (no failover, nothing lost or reordered).
func TestOpeningHoldIsBounded(t *testing.T) {
	h := newHarness(t, []acct{{id: "busy", prio: 2}, {id: "spare", prio: 1}}, nil)
	evs := relaytest.Stream("claude-sonnet-4-5", nil, 3, 1, 0, 0)[:1]
	for range 1000 { // about 37 KiB of pings
		evs = append(evs, "event: ping\ndata: {\"type\": \"ping\"}")
	}
	evs = append(evs, overloadedEvent)
	h.ups["busy"].Push(relaytest.Reply{Events: evs})
	resp := streamReq(t, h, context.Background())
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != relaytest.Joined(evs) {
		t.Errorf("stream: got %d bytes, want the upstream's %d unchanged", len(got), len(relaytest.Joined(evs)))
	}
	if n := h.ups["spare"].Count(); n != 0 {
		t.Errorf("spare account called %d times, want 0", n)
	}
}

// The Responses API fails a stream with response.failed after
// response.created: the OpenAI SDK's stream comes whole from the next
// account.
func TestFailedResponseOpeningMovesOn(t *testing.T) {
	h := responsesHarness(t)
	created := `event: response.created` + "\n" + `data: {"type":"response.created","response":{"id":"r","status":"in_progress","model":"gpt-5.4"}}`
	failed := `event: response.failed` + "\n" + `data: {"type":"response.failed","response":{"id":"r","status":"failed","model":"gpt-5.4","error":{"code":"server_error","message":"try again"}}}`
	h.ups["chatgpt"].Push(relaytest.Reply{Events: []string{created, failed}})
	h.ups["apikey"].Push(relaytest.Reply{Events: relaytest.ResponseStream("gpt-5.4", []string{"a", "b"}, 10, 0, 2)})
	client := openai.NewClient(option.WithBaseURL(h.http.URL+"/openai/v1"), option.WithAPIKey("local-key"), option.WithMaxRetries(0))
	stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "gpt-5.4", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	defer stream.Close()
	text, created2 := "", 0
	for stream.Next() {
		switch ev := stream.Current(); ev.Type {
		case "response.output_text.delta":
			text += ev.Delta
		case "response.created":
			created2++
		}
	}
	if err := stream.Err(); err != nil || text != "ab" || created2 != 1 {
		t.Errorf("stream = %q, %d response.created, err %v; want ab, 1, nil", text, created2, err)
	}
	if r := waitRecords(t, h.sink, 1)[0]; r.Account != "apikey" || len(r.Failover) != 1 || r.Failover[0].Account != "chatgpt" {
		t.Errorf("record: account %q failover %+v; want apikey after leaving chatgpt", r.Account, r.Failover)
	}
}

// A Gemini stream whose first chunk is an error moves on too.
func TestFailedGeminiOpeningMovesOn(t *testing.T) {
	h := geminiHarness(t)
	h.ups["g1"].Push(relaytest.Reply{Events: []string{"data: " + relaytest.GoogleError(503, "UNAVAILABLE", "The model is overloaded.")}})
	h.ups["g2"].Push(relaytest.Reply{Events: relaytest.GeminiStream("gemini-3.5-flash", []string{"a", "b"}, 5, 0)})
	resp, body := h.do("POST", "/gemini/v1beta/models/gemini-3.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`, map[string]string{"x-goog-api-key": "local-key"})
	if resp.StatusCode != 200 || strings.Contains(body, "overloaded") || !strings.Contains(body, `"text":"a"`) {
		t.Errorf("answer %d %q; want g2's stream alone", resp.StatusCode, body)
	}
	if h.ups["g2"].Count() != 1 {
		t.Errorf("g2 called %d times, want 1", h.ups["g2"].Count())
	}
}
