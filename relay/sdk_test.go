package relay_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"keypool/relay/relaytest"
)

// The official Anthropic Go SDK works through the relay, streaming and not,
// with its base URL pointed at the relay and a local key as its token.
func TestAnthropicSDK(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	client := anthropic.NewClient(
		option.WithBaseURL(h.http.URL),
		option.WithAuthToken("local-key"),
		option.WithMaxRetries(0),
	)
	ctx := context.Background()
	params := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 100,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}

	t.Run("non_streaming", func(t *testing.T) {
		h.ups["a"].Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "hello there", 9, 3)})
		msg, err := client.Messages.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "hello there" || msg.Usage.InputTokens != 9 || msg.Usage.OutputTokens != 3 {
			t.Errorf("message = %+v", msg)
		}
	})

	t.Run("streaming", func(t *testing.T) {
		h.ups["a"].Push(relaytest.Reply{Events: relaytest.Stream("claude-sonnet-4-5", []string{"a", "b", "c"}, 4, 30, 0, 2)})
		stream := client.Messages.NewStreaming(ctx, params)
		var acc anthropic.Message
		events := 0
		for stream.Next() {
			events++
			if err := acc.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Content) != 1 || acc.Content[0].Text != "abc" || acc.Usage.OutputTokens != 30 || acc.Usage.CacheReadInputTokens != 2 {
			t.Errorf("accumulated = %+v after %d events", acc, events)
		}
	})

	t.Run("count_tokens", func(t *testing.T) {
		h.ups["a"].Push(relaytest.Reply{Body: `{"input_tokens":42}`})
		n, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
			Model:    "claude-sonnet-4-5",
			Messages: params.Messages,
		})
		if err != nil || n.InputTokens != 42 {
			t.Fatalf("count = %+v, %v", n, err)
		}
		last := h.ups["a"].Requests()[h.ups["a"].Count()-1]
		if last.Path != "/v1/messages/count_tokens" {
			t.Errorf("upstream path = %s", last.Path)
		}
	})

	t.Run("error_in_anthropic_format", func(t *testing.T) {
		bad := anthropic.NewClient(option.WithBaseURL(h.http.URL), option.WithAuthToken("wrong"), option.WithMaxRetries(0))
		_, err := bad.Messages.New(ctx, params)
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
			t.Fatalf("err = %v, want a 401 anthropic.Error", err)
		}
	})
}
