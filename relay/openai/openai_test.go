package openai

import (
	"testing"

	"keypool/relay/pool"
)

// The tap reads usage from the closing event, whether or not the server
// names events with an event line.
func TestStreamTap(t *testing.T) {
	completed := `{"type":"response.completed","response":{"model":"gpt-5.4","status":"completed","usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":7}}}`
	want := pool.Usage{InputTokens: 60, CacheReadTokens: 40, OutputTokens: 7, RawInputTokens: 100}
	tests := []struct {
		name  string
		ev    string
		model string
		usage pool.Usage
		err   string
	}{
		{"named", "event: response.completed\ndata: " + completed, "gpt-5.4", want, ""},
		{"data only", "data: " + completed, "gpt-5.4", want, ""},
		{"data only, spaced", "data: " + `{"type" : "response.completed","response":{"model":"m","usage":{"input_tokens":1,"output_tokens":2}}}`, "m",
			pool.Usage{InputTokens: 1, OutputTokens: 2, RawInputTokens: 1}, ""},
		{"data only, type last", "data: " + `{"response":{"model":"m","output":[{"type":"message"}],"usage":{"input_tokens":1,"output_tokens":2}},"sequence_number":9,"type":"response.completed"}`, "m",
			pool.Usage{InputTokens: 1, OutputTokens: 2, RawInputTokens: 1}, ""},
		{"a delta", "data: " + `{"type":"response.output_text.delta","delta":"response.completed"}`, "", pool.Usage{}, ""},
		{"a type prefix", "data: " + `{"type":"response.completed.extra"}`, "", pool.Usage{}, ""},
		{"failed", "data: " + `{"type":"response.failed","response":{"error":{"code":"server_error","message":"x"}}}`, "", pool.Usage{}, "server_error"},
		{"done marker", "data: [DONE]", "", pool.Usage{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tap StreamTap
			tap.Event([]byte(tt.ev))
			model, u, errType := tap.Result()
			if model != tt.model || u != tt.usage || errType != tt.err {
				t.Errorf("tap = %q %+v %q, want %q %+v %q", model, u, errType, tt.model, tt.usage, tt.err)
			}
		})
	}
}
