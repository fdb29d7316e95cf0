package convert

import (
	"encoding/json"
	"reflect"
	"testing"
)

type oaToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// sendBack builds the client's next request: the assistant message with its
// tool calls, then one tool result per call, and converts it.
func sendBack(t *testing.T, calls []oaToolCall) []message {
	t.Helper()
	msgs := []any{
		map[string]any{"role": "user", "content": "weather in Paris and Rome?"},
		map[string]any{"role": "assistant", "content": nil, "tool_calls": calls},
	}
	for _, c := range calls {
		msgs = append(msgs, map[string]any{"role": "tool", "tool_call_id": c.ID, "content": "sunny in " + c.Function.Name})
	}
	body, err := json.Marshal(map[string]any{"model": "gpt-4o", "messages": msgs})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := ChatToMessages(body, Options{})
	if err != nil {
		t.Fatalf("ChatToMessages: %v", err)
	}
	var req struct {
		Messages []message `json:"messages"`
	}
	if err := json.Unmarshal(out, &req); err != nil {
		t.Fatal(err)
	}
	return req.Messages
}

// checkRoundTrip checks that the converted request carries the upstream's
// tool_use ids, names and inputs, and matching tool_result blocks.
func checkRoundTrip(t *testing.T, got []message, want []block) {
	t.Helper()
	if len(got) != 3 || got[1].Role != "assistant" || got[2].Role != "user" {
		t.Fatalf("messages = %+v, want user, assistant, user", got)
	}
	if len(got[1].Content) != len(want) || len(got[2].Content) != len(want) {
		t.Fatalf("assistant %d blocks, user %d blocks, want %d each", len(got[1].Content), len(got[2].Content), len(want))
	}
	for i, w := range want {
		u := got[1].Content[i]
		if u.Type != "tool_use" || u.ID != w.ID || u.Name != w.Name {
			t.Errorf("tool_use %d = %s %s %s, want %s %s", i, u.Type, u.ID, u.Name, w.ID, w.Name)
		}
		var gi, wi any
		if json.Unmarshal(u.Input, &gi) != nil || json.Unmarshal(w.Input, &wi) != nil || !reflect.DeepEqual(gi, wi) {
			t.Errorf("tool_use %d input = %s, want %s", i, u.Input, w.Input)
		}
		r := got[2].Content[i]
		if r.Type != "tool_result" || r.ToolUseID != w.ID {
			t.Errorf("tool_result %d = %s for %s, want for %s", i, r.Type, r.ToolUseID, w.ID)
		}
	}
}

var roundTripUses = []block{
	{ID: "toolu_01A", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris","units":{"temp":"C"}}`)},
	{ID: "toolu_01B", Name: "get_weather", Input: json.RawMessage(`{"city":"Rome","days":[1,2]}`)},
}

func TestToolRoundTripMessage(t *testing.T) {
	answer := `{"id":"msg_1","type":"message","role":"assistant","content":[
		{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris","units":{"temp":"C"}}},
		{"type":"tool_use","id":"toolu_01B","name":"get_weather","input":{"city":"Rome","days":[1,2]}}],
		"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}`
	out, err := MessageToChat([]byte(answer), "gpt-4o", testCreated)
	if err != nil {
		t.Fatal(err)
	}
	var cc struct {
		Choices []struct {
			Message struct {
				ToolCalls []oaToolCall `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(out, &cc); err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, sendBack(t, cc.Choices[0].Message.ToolCalls), roundTripUses)
}

func TestToolRoundTripStream(t *testing.T) {
	events := []string{
		ev("message_start", evStart),
		ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{}}}`),
		ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\":\"Paris\",\"un"}}`),
		ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"its\":{\"temp\":\"C\"}}"}}`),
		ev("content_block_stop", blockStop(0)),
		ev("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01B","name":"get_weather","input":{}}}`),
		ev("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":\"Rome\",\"days\":[1,2]}"}}`),
		ev("content_block_stop", blockStop(1)),
		ev("message_delta", msgDelta("tool_use", 9)),
		ev("message_stop", evStop),
	}
	s := NewStream("gpt-4o", false, testCreated)
	var out []byte
	for _, e := range events {
		var err error
		if out, err = s.Event(out, []byte(e)); err != nil {
			t.Fatal(err)
		}
	}
	// Accumulate the tool calls as an OpenAI client does.
	var calls []oaToolCall
	for _, p := range splitChunks(t, out) {
		if p == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					ToolCalls []oaToolCall `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(p), &c); err != nil {
			t.Fatal(err)
		}
		for _, d := range c.Choices[0].Delta.ToolCalls {
			k := *d.Index
			if k == len(calls) {
				calls = append(calls, oaToolCall{ID: d.ID, Type: d.Type})
				calls[k].Function.Name = d.Function.Name
			}
			calls[k].Function.Arguments += d.Function.Arguments
		}
	}
	for i := range calls {
		calls[i].Index = nil
	}
	checkRoundTrip(t, sendBack(t, calls), roundTripUses)
}
