package convert

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// ev builds one Anthropic SSE event.
func ev(typ, data string) string { return "event: " + typ + "\ndata: " + data + "\n\n" }

const (
	evStart = `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":5,"cache_read_input_tokens":10,"output_tokens":1}}}`
	evPing  = `{"type":"ping"}`
	evStop  = `{"type":"message_stop"}`
)

func textStart(i int) string {
	return `{"type":"content_block_start","index":` + itoa(i) + `,"content_block":{"type":"text","text":""}}`
}
func textDelta(i int, text string) string {
	b, _ := json.Marshal(text)
	return `{"type":"content_block_delta","index":` + itoa(i) + `,"delta":{"type":"text_delta","text":` + string(b) + `}}`
}
func blockStop(i int) string { return `{"type":"content_block_stop","index":` + itoa(i) + `}` }
func msgDelta(stop string, out int) string {
	return `{"type":"message_delta","delta":{"stop_reason":"` + stop + `","stop_sequence":null},"usage":{"output_tokens":` + itoa(out) + `}}`
}
func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// chunk is an expected chat.completion.chunk.
func chunk(withUsage bool, delta, finish string) string {
	s := `{"id":"chatcmpl-msg_1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":` +
		delta + `,"finish_reason":` + finish + `}]`
	if withUsage {
		s += `,"usage":null`
	}
	return s + "}"
}

type streamCase struct {
	name           string
	includeUsage   bool
	events         []string
	want           []string // chunk payloads: JSON, or "[DONE]"
	prompt, output int64
}

var streamCases = []streamCase{
	{
		name: "text_only",
		events: []string{
			ev("message_start", evStart), ev("content_block_start", textStart(0)), ev("ping", evPing),
			ev("content_block_delta", textDelta(0, "Hel")), ev("content_block_delta", textDelta(0, "lo")),
			ev("content_block_stop", blockStop(0)), ev("message_delta", msgDelta("end_turn", 12)), ev("message_stop", evStop),
		},
		want: []string{
			chunk(false, `{"role":"assistant","content":""}`, "null"),
			chunk(false, `{"content":"Hel"}`, "null"),
			chunk(false, `{"content":"lo"}`, "null"),
			chunk(false, `{}`, `"stop"`),
			"[DONE]",
		},
		prompt: 40, output: 12,
	},
	{
		name:         "text_include_usage",
		includeUsage: true,
		events: []string{
			ev("message_start", evStart), ev("content_block_start", textStart(0)),
			ev("content_block_delta", textDelta(0, "Hi")), ev("content_block_stop", blockStop(0)),
			ev("message_delta", msgDelta("max_tokens", 3)), ev("message_stop", evStop),
		},
		want: []string{
			chunk(true, `{"role":"assistant","content":""}`, "null"),
			chunk(true, `{"content":"Hi"}`, "null"),
			chunk(true, `{}`, `"length"`),
			`{"id":"chatcmpl-msg_1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],
				"usage":{"prompt_tokens":40,"completion_tokens":3,"total_tokens":43,"prompt_tokens_details":{"cached_tokens":10}}}`,
			"[DONE]",
		},
		prompt: 40, output: 3,
	},
	{
		name: "tool_calls_partial_json",
		events: []string{
			ev("message_start", evStart),
			ev("content_block_start", textStart(0)), ev("content_block_delta", textDelta(0, "Checking.")), ev("content_block_stop", blockStop(0)),
			ev("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_A","name":"get_weather","input":{}}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\""}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":": \"Par"}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}`),
			ev("content_block_stop", blockStop(1)),
			ev("content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_B","name":"get_time","input":{}}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"tz\":\"CET\"}"}}`),
			ev("content_block_stop", blockStop(2)),
			ev("message_delta", msgDelta("tool_use", 40)), ev("message_stop", evStop),
		},
		want: []string{
			chunk(false, `{"role":"assistant","content":""}`, "null"),
			chunk(false, `{"content":"Checking."}`, "null"),
			chunk(false, `{"tool_calls":[{"index":0,"id":"toolu_A","type":"function","function":{"name":"get_weather","arguments":""}}]}`, "null"),
			chunk(false, `{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\""}}]}`, "null"),
			chunk(false, `{"tool_calls":[{"index":0,"function":{"arguments":": \"Par"}}]}`, "null"),
			chunk(false, `{"tool_calls":[{"index":0,"function":{"arguments":"is\"}"}}]}`, "null"),
			chunk(false, `{"tool_calls":[{"index":1,"id":"toolu_B","type":"function","function":{"name":"get_time","arguments":""}}]}`, "null"),
			chunk(false, `{"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\":\"CET\"}"}}]}`, "null"),
			chunk(false, `{}`, `"tool_calls"`),
			"[DONE]",
		},
		prompt: 40, output: 40,
	},
	{
		name: "tool_without_arguments_gets_empty_object",
		events: []string{
			ev("message_start", evStart),
			ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_A","name":"now","input":{}}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}`),
			ev("content_block_stop", blockStop(0)),
			ev("message_delta", msgDelta("tool_use", 5)), ev("message_stop", evStop),
		},
		want: []string{
			chunk(false, `{"role":"assistant","content":""}`, "null"),
			chunk(false, `{"tool_calls":[{"index":0,"id":"toolu_A","type":"function","function":{"name":"now","arguments":""}}]}`, "null"),
			chunk(false, `{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}`, "null"),
			chunk(false, `{}`, `"tool_calls"`),
			"[DONE]",
		},
		prompt: 40, output: 5,
	},
	{
		name:         "thinking_then_text",
		includeUsage: true,
		events: []string{
			ev("message_start", evStart),
			ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}`),
			ev("content_block_stop", blockStop(0)),
			ev("content_block_start", textStart(1)), ev("content_block_delta", textDelta(1, "42")), ev("content_block_stop", blockStop(1)),
			ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":25,"cache_read_input_tokens":10,"output_tokens":50}}`),
			ev("message_stop", evStop),
		},
		want: []string{
			chunk(true, `{"role":"assistant","content":""}`, "null"),
			chunk(true, `{"reasoning_content":"Let me think"}`, "null"),
			chunk(true, `{"content":"42"}`, "null"),
			chunk(true, `{}`, `"stop"`),
			`{"id":"chatcmpl-msg_1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],
				"usage":{"prompt_tokens":40,"completion_tokens":50,"total_tokens":90,"prompt_tokens_details":{"cached_tokens":10}}}`,
			"[DONE]",
		},
		prompt: 40, output: 50,
	},
	{
		name:         "error_event_midstream",
		includeUsage: true,
		events: []string{
			ev("message_start", evStart), ev("content_block_start", textStart(0)), ev("content_block_delta", textDelta(0, "par")),
			ev("error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`),
			ev("content_block_delta", textDelta(0, "ignored")), ev("message_stop", evStop),
		},
		want: []string{
			chunk(true, `{"role":"assistant","content":""}`, "null"),
			chunk(true, `{"content":"par"}`, "null"),
			`{"error":{"message":"Overloaded","type":"server_error","param":null,"code":"overloaded_error"}}`,
			"[DONE]",
		},
		prompt: 40, output: 1,
	},
	{
		name: "crlf_no_event_line_multiline_data_comments",
		events: []string{
			"event: message_start\r\ndata: " + evStart + "\r\n\r\n",
			": keep-alive comment\n\n",
			"data: {\"type\":\"content_block_delta\",\"index\":0,\ndata: \"delta\":{\"type\":\"text_delta\",\"text\":\"two lines\"}}\n\n",
			"data:" + textDelta(0, "no space") + "\n",
			ev("message_stop", evStop),
		},
		want: []string{
			chunk(false, `{"role":"assistant","content":""}`, "null"),
			chunk(false, `{"content":"two lines"}`, "null"),
			chunk(false, `{"content":"no space"}`, "null"),
			"[DONE]",
		},
		prompt: 40, output: 1,
	},
	{
		name: "escaped_text_kept",
		events: []string{
			ev("message_start", evStart),
			ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"line\n\"q\" \u00e9 <b> \\ /"}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"text":"keys","type":"text_delta"}}`),
		},
		want: []string{
			chunk(false, `{"role":"assistant","content":""}`, "null"),
			chunk(false, `{"content":"line\n\"q\" é <b> \\ /"}`, "null"),
			chunk(false, `{"content":"keys"}`, "null"),
		},
		prompt: 40, output: 1,
	},
	{
		name: "unknown_and_empty_ignored",
		events: []string{
			ev("message_start", evStart),
			ev("future_event", `{"type":"future_event","x":1}`),
			ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"q\":1}"}}`),
			ev("content_block_stop", blockStop(0)),
			ev("content_block_delta", textDelta(1, "")),
			"event: ping\n\n",
		},
		want: []string{
			chunk(false, `{"role":"assistant","content":""}`, "null"),
		},
		prompt: 40, output: 1,
	},
}

// splitChunks checks the SSE framing of out and returns each data payload.
func splitChunks(t *testing.T, out []byte) []string {
	t.Helper()
	var payloads []string
	rest := string(out)
	for rest != "" {
		line, after, ok := strings.Cut(rest, "\n\n")
		if !ok || !strings.HasPrefix(line, "data: ") || strings.Contains(line, "\n") {
			t.Fatalf("SSE framing at %q, want \"data: <one line>\\n\\n\"", rest)
		}
		payloads = append(payloads, strings.TrimPrefix(line, "data: "))
		rest = after
	}
	return payloads
}

func TestStream(t *testing.T) {
	for _, tc := range streamCases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStream("gpt-4o", tc.includeUsage, testCreated)
			var out []byte
			for _, e := range tc.events {
				var err error
				if out, err = s.Event(out, []byte(e)); err != nil {
					t.Fatalf("Event(%q): %v, want nil", e, err)
				}
			}
			got := splitChunks(t, out)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d chunks, want %d:\n%s", len(got), len(tc.want), out)
			}
			for i := range got {
				if tc.want[i] == "[DONE]" || got[i] == "[DONE]" {
					if got[i] != tc.want[i] {
						t.Errorf("chunk %d = %s, want %s", i, got[i], tc.want[i])
					}
					continue
				}
				jsonEqual(t, []byte(got[i]), []byte(tc.want[i]))
			}
			if p, c := s.Usage(); p != tc.prompt || c != tc.output {
				t.Errorf("Usage() = %d, %d, want %d, %d", p, c, tc.prompt, tc.output)
			}
		})
	}
}

func TestStreamInvalidData(t *testing.T) {
	s := NewStream("m", false, testCreated)
	dst := []byte("keep")
	got, err := s.Event(dst, []byte("event: content_block_delta\ndata: {not json\n\n"))
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if string(got) != "keep" {
		t.Errorf("dst = %q, want it unchanged", got)
	}
}

func TestStreamDoesNotRetainEvent(t *testing.T) {
	s := NewStream("", false, testCreated)
	e := []byte(ev("message_start", evStart))
	out, err := s.Event(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	for i := range e {
		e[i] = 'x'
	}
	out, err = s.Event(out, []byte(ev("content_block_delta", textDelta(0, "a"))))
	if err != nil {
		t.Fatal(err)
	}
	chunks := splitChunks(t, out)
	var c struct{ ID, Model string }
	if err := json.Unmarshal([]byte(chunks[1]), &c); err != nil {
		t.Fatal(err)
	}
	if c.ID != "chatcmpl-msg_1" || c.Model != "claude-sonnet-4-5" {
		t.Errorf("id, model = %q, %q; want chatcmpl-msg_1, claude-sonnet-4-5 (the upstream's)", c.ID, c.Model)
	}
}

func BenchmarkStreamTextDelta(b *testing.B) {
	s := NewStream("gpt-4o", true, testCreated)
	dst, err := s.Event(nil, []byte(ev("message_start", evStart)))
	if err != nil {
		b.Fatal(err)
	}
	e := []byte(ev("content_block_delta", textDelta(0, "Hello, this is a typical short piece of streamed text.")))
	b.ReportAllocs()
	b.SetBytes(int64(len(e)))
	for b.Loop() {
		dst, err = s.Event(dst[:0], e)
		if err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.HasPrefix(dst, []byte("data: {")) {
		b.Fatalf("unexpected output %q", dst)
	}
}
