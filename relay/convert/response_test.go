package convert

import (
	"testing"
	"time"
)

var testCreated = time.Unix(1700000000, 0)

var responseCases = []struct {
	name    string
	model   string
	in      string
	want    string // empty: an error is expected
	wantErr bool
}{
	{
		name:  "text",
		model: "gpt-4o",
		in: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello"},{"type":"text","text":", world"}],
			"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}`,
		want: `{"id":"chatcmpl-msg_1","object":"chat.completion","created":1700000000,"model":"gpt-4o",
			"choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world"},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":0}}}`,
	},
	{
		name: "upstream_model_when_empty",
		in:   `{"id":"msg_1","type":"message","model":"claude-x","content":[{"type":"text","text":"a"}],"stop_reason":"stop_sequence","usage":{"input_tokens":1,"output_tokens":1}}`,
		want: `{"id":"chatcmpl-msg_1","object":"chat.completion","created":1700000000,"model":"claude-x",
			"choices":[{"index":0,"message":{"role":"assistant","content":"a"},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"prompt_tokens_details":{"cached_tokens":0}}}`,
	},
	{
		name:  "text_and_tool_use",
		model: "m",
		in: `{"id":"msg_2","type":"message","content":[{"type":"text","text":"Checking."},
			{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city": "Paris", "days": 2}}],
			"stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":9}}`,
		want: `{"id":"chatcmpl-msg_2","object":"chat.completion","created":1700000000,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","tool_calls":[
				{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"days\":2}"}}]},
				"logprobs":null,"finish_reason":"tool_calls"}],
			"usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}`,
	},
	{
		name:  "tool_use_only_null_content",
		model: "m",
		in: `{"id":"msg_3","type":"message","content":[{"type":"tool_use","id":"toolu_1","name":"now","input":{}}],
			"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}`,
		want: `{"id":"chatcmpl-msg_3","object":"chat.completion","created":1700000000,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
				{"id":"toolu_1","type":"function","function":{"name":"now","arguments":"{}"}}]},
				"logprobs":null,"finish_reason":"tool_calls"}],
			"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"prompt_tokens_details":{"cached_tokens":0}}}`,
	},
	{
		name:  "thinking_to_reasoning_content",
		model: "m",
		in: `{"id":"msg_4","type":"message","content":[{"type":"thinking","thinking":"2+2 is 4","signature":"sig"},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"4"}],
			"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":30}}`,
		want: `{"id":"chatcmpl-msg_4","object":"chat.completion","created":1700000000,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2 is 4"},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":3,"completion_tokens":30,"total_tokens":33,"prompt_tokens_details":{"cached_tokens":0}}}`,
	},
	{
		name:  "max_tokens_and_cache_usage",
		model: "m",
		in: `{"id":"msg_5","type":"message","content":[{"type":"text","text":"cut"}],"stop_reason":"max_tokens",
			"usage":{"input_tokens":3,"cache_creation_input_tokens":100,"cache_read_input_tokens":200,"output_tokens":7}}`,
		want: `{"id":"chatcmpl-msg_5","object":"chat.completion","created":1700000000,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":"cut"},"logprobs":null,"finish_reason":"length"}],
			"usage":{"prompt_tokens":303,"completion_tokens":7,"total_tokens":310,"prompt_tokens_details":{"cached_tokens":200}}}`,
	},
	{
		name:  "refusal_content_filter",
		model: "m",
		in:    `{"id":"msg_6","type":"message","content":[],"stop_reason":"refusal","usage":{"input_tokens":1,"output_tokens":0}}`,
		want: `{"id":"chatcmpl-msg_6","object":"chat.completion","created":1700000000,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"content_filter"}],
			"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1,"prompt_tokens_details":{"cached_tokens":0}}}`,
	},
	{
		name:  "pause_turn_stop",
		model: "m",
		in:    `{"id":"msg_7","type":"message","content":[{"type":"text","text":"…"}],"stop_reason":"pause_turn","usage":{"input_tokens":1,"output_tokens":1}}`,
		want: `{"id":"chatcmpl-msg_7","object":"chat.completion","created":1700000000,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":"…"},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"prompt_tokens_details":{"cached_tokens":0}}}`,
	},
	{name: "error_body", in: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, wantErr: true},
	{name: "invalid_json", in: `{"id":`, wantErr: true},
	{name: "not_a_message", in: `{"type":"completion"}`, wantErr: true},
}

func TestMessageToChat(t *testing.T) {
	for _, tc := range responseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MessageToChat([]byte(tc.in), tc.model, testCreated)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("err = nil, want an error; got %s", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			jsonEqual(t, got, []byte(tc.want))
		})
	}
}

func TestFinishReason(t *testing.T) {
	tests := map[string]string{
		"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "": "stop",
		"max_tokens": "length", "model_context_window_exceeded": "length",
		"tool_use": "tool_calls", "refusal": "content_filter", "sensitive": "content_filter",
	}
	for in, want := range tests {
		if got := finishReason(in); got != want {
			t.Errorf("finishReason(%q) = %q, want %q", in, got, want)
		}
	}
}
