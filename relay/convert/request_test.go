package convert

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// jsonEqual fails t unless got and want hold the same JSON value.
func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

type requestCase struct {
	name string
	opt  Options
	in   string
	want string       // Anthropic body; empty when an error is expected
	info *RequestInfo // checked when set
	// For errors: the *Error's Param.
	errParam string
}

var requestCases = []requestCase{
	{
		name: "user_string",
		in:   `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":8192}`,
		info: &RequestInfo{Model: "gpt-4o"},
	},
	{
		name: "default_max_tokens_option",
		opt:  Options{DefaultMaxTokens: 1000},
		in:   `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":1000}`,
	},
	{
		name: "system_and_developer_hoisted",
		in: `{"model":"m","messages":[
			{"role":"system","content":"be brief"},
			{"role":"developer","content":[{"type":"text","text":"use metric"},{"type":"text","text":""}]},
			{"role":"user","content":"hi"},
			{"role":"system","content":"late rule"}]}`,
		want: `{"model":"m","system":[{"type":"text","text":"be brief"},{"type":"text","text":"use metric"},{"type":"text","text":"late rule"}],
			"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":8192}`,
	},
	{
		name: "claude_code_identity_first",
		opt:  Options{ClaudeCodeSystem: true},
		in:   `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude."},{"type":"text","text":"be brief"}],
			"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":8192}`,
	},
	{
		name: "claude_code_identity_without_system",
		opt:  Options{ClaudeCodeSystem: true},
		in:   `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude."}],
			"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":8192}`,
	},
	{
		name: "image_data_url",
		in: `{"model":"m","messages":[{"role":"user","content":[
			{"type":"text","text":"what is this?"},
			{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}}]}]}`,
		want: `{"model":"m","messages":[{"role":"user","content":[
			{"type":"text","text":"what is this?"},
			{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}],"max_tokens":8192}`,
	},
	{
		name: "image_http_url",
		in: `{"model":"m","messages":[{"role":"user","content":[
			{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}}]}]}`,
		want: `{"model":"m","messages":[{"role":"user","content":[
			{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}],"max_tokens":8192}`,
	},
	{
		name: "pdf_file",
		in: `{"model":"m","messages":[{"role":"user","content":[
			{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0x"}},
			{"type":"text","text":"summarize"}]}]}`,
		want: `{"model":"m","messages":[{"role":"user","content":[
			{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}},
			{"type":"text","text":"summarize"}]}],"max_tokens":8192}`,
	},
	{
		name: "tools_tool_choice_auto",
		in: `{"model":"m","messages":[{"role":"user","content":"weather?"}],
			"tools":[
				{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},
				{"type":"function","function":{"name":"now"}}],
			"tool_choice":"auto"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"weather?"}]}],"max_tokens":8192,
			"tools":[
				{"name":"get_weather","description":"Weather in a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
				{"name":"now","input_schema":{"type":"object"}}],
			"tool_choice":{"type":"auto"}}`,
	},
	{
		name: "tool_choice_required",
		in: `{"model":"m","messages":[{"role":"user","content":"x"}],
			"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"required"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,
			"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"}}`,
	},
	{
		name: "tool_choice_function",
		in: `{"model":"m","messages":[{"role":"user","content":"x"}],
			"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,
			"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"}}`,
	},
	{
		name: "tool_choice_none_drops_tools",
		in: `{"model":"m","messages":[{"role":"user","content":"x"}],
			"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192}`,
	},
	{
		name: "parallel_tool_calls_false",
		in: `{"model":"m","messages":[{"role":"user","content":"x"}],
			"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,
			"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}}`,
	},
	{
		name: "tool_choice_without_tools_omitted",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192}`,
	},
	{
		name: "tool_round_trip_merged",
		in: `{"model":"m","messages":[
			{"role":"user","content":"weather in Paris and Rome?"},
			{"role":"assistant","content":"Let me check.","tool_calls":[
				{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}},
				{"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
			{"role":"tool","tool_call_id":"call_1","content":"18C"},
			{"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"21C"}]},
			{"role":"user","content":"thanks"}]}`,
		want: `{"model":"m","messages":[
			{"role":"user","content":[{"type":"text","text":"weather in Paris and Rome?"}]},
			{"role":"assistant","content":[
				{"type":"text","text":"Let me check."},
				{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},
				{"type":"tool_use","id":"call_2","name":"get_weather","input":{"city":"Rome"}}]},
			{"role":"user","content":[
				{"type":"tool_result","tool_use_id":"call_1","content":"18C"},
				{"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"21C"}]},
				{"type":"text","text":"thanks"}]}],
			"max_tokens":8192}`,
	},
	{
		name: "tool_call_empty_arguments_and_null_content",
		in: `{"model":"m","messages":[
			{"role":"user","content":"time?"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"now","arguments":""}}]},
			{"role":"tool","tool_call_id":"call_1","content":""}]}`,
		want: `{"model":"m","messages":[
			{"role":"user","content":[{"type":"text","text":"time?"}]},
			{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"now","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1"}]}],
			"max_tokens":8192}`,
	},
	{
		name: "tool_result_moved_before_user_text",
		in: `{"model":"m","messages":[
			{"role":"user","content":"a"},
			{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
			{"role":"user","content":"also this"},
			{"role":"tool","tool_call_id":"c1","content":"ok"}]}`,
		want: `{"model":"m","messages":[
			{"role":"user","content":[{"type":"text","text":"a"}]},
			{"role":"assistant","content":[{"type":"tool_use","id":"c1","name":"f","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"c1","content":"ok"},{"type":"text","text":"also this"}]}],
			"max_tokens":8192}`,
	},
	{
		name: "consecutive_same_role_merged",
		in: `{"model":"m","messages":[
			{"role":"user","content":"one"},{"role":"user","content":[{"type":"text","text":"two"}]},
			{"role":"assistant","content":"three"},{"role":"assistant","content":[{"type":"refusal","refusal":"four"}]},
			{"role":"user","content":""}]}`,
		want: `{"model":"m","messages":[
			{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
			{"role":"assistant","content":[{"type":"text","text":"three"},{"type":"text","text":"four"}]}],
			"max_tokens":8192}`,
	},
	{
		name: "stop_string",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"stop":"END"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"stop_sequences":["END"]}`,
	},
	{
		name: "stop_array_blank_dropped",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"stop":["a","  ","b"]}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"stop_sequences":["a","b"]}`,
	},
	{
		name: "temperature_and_top_p_drops_top_p",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.2,"top_p":0.9}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"temperature":0.2}`,
	},
	{
		name: "top_p_alone_kept",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"top_p":0.9}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"top_p":0.9}`,
	},
	{
		name: "temperature_clamped_and_zero_kept",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1.7}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"temperature":1}`,
	},
	{
		name: "temperature_zero_kept",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"temperature":0}`,
	},
	{
		name: "max_completion_tokens_wins",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":100,"max_completion_tokens":200}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":200}`,
	},
	{
		name: "max_tokens",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":100}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":100}`,
	},
	{
		name: "reasoning_high_raises_max_tokens_drops_temperature",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1000,"temperature":0.5,"reasoning_effort":"high"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":17384,
			"thinking":{"type":"enabled","budget_tokens":16384}}`,
	},
	{
		name: "reasoning_medium_keeps_high_top_p",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"top_p":0.97,"reasoning_effort":"medium"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"top_p":0.97,
			"thinking":{"type":"enabled","budget_tokens":4096}}`,
	},
	{
		name: "reasoning_low_drops_low_top_p",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"top_p":0.5,"reasoning_effort":"low"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,
			"thinking":{"type":"enabled","budget_tokens":1024}}`,
	},
	{
		name: "reasoning_none_is_off",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.5,"reasoning_effort":"none"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"temperature":0.5}`,
	},
	{
		name: "reasoning_off_when_tool_forced",
		in: `{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"high",
			"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,
			"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"}}`,
	},
	{
		name: "user_to_metadata",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"user":"alice"}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"metadata":{"user_id":"alice"}}`,
	},
	{
		name: "stream_include_usage",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"stream":true}`,
		info: &RequestInfo{Model: "m", Stream: true, IncludeUsage: true},
	},
	{
		name: "stream_without_usage",
		in:   `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192,"stream":true}`,
		info: &RequestInfo{Model: "m", Stream: true},
	},
	{
		name: "unknown_fields_ignored",
		in: `{"model":"m","messages":[{"role":"user","content":"x","name":"bob"}],"n":1,"presence_penalty":1,"seed":7,
			"logprobs":false,"response_format":{"type":"text"},"store":false,"metadata":{"a":"b"}}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":8192}`,
	},
	{
		name: "html_not_escaped",
		in:   `{"model":"m","messages":[{"role":"user","content":"<b>&</b>"}]}`,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"<b>&</b>"}]}],"max_tokens":8192}`,
	},

	// Errors.
	{name: "err_invalid_json", in: `{"model":`, errParam: ""},
	{name: "err_not_object", in: `[1,2]`, errParam: ""},
	{name: "err_no_messages", in: `{"model":"m","messages":[]}`, errParam: "messages"},
	{name: "err_messages_missing", in: `{"model":"m"}`, errParam: "messages"},
	{name: "err_model_missing", in: `{"messages":[{"role":"user","content":"x"}]}`, errParam: "model"},
	{name: "err_only_system", in: `{"model":"m","messages":[{"role":"system","content":"x"}]}`, errParam: "messages"},
	{name: "err_first_assistant", in: `{"model":"m","messages":[{"role":"system","content":"s"},{"role":"assistant","content":"hello"},{"role":"user","content":"x"}]}`, errParam: "messages"},
	{name: "err_unknown_role", in: `{"model":"m","messages":[{"role":"function","content":"x"}]}`, errParam: "messages[0].role"},
	{name: "err_missing_role", in: `{"model":"m","messages":[{"content":"x"}]}`, errParam: "messages[0].role"},
	{name: "err_role_wrong_type", in: `{"model":"m","messages":[{"role":1,"content":"x"}]}`, errParam: "messages.role"},
	{name: "err_user_null_content", in: `{"model":"m","messages":[{"role":"user","content":null}]}`, errParam: "messages[0].content"},
	{name: "err_content_number", in: `{"model":"m","messages":[{"role":"user","content":5}]}`, errParam: "messages[0].content"},
	{name: "err_part_type", in: `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`, errParam: "messages[0].content[0].type"},
	{name: "err_part_not_object", in: `{"model":"m","messages":[{"role":"user","content":["hi"]}]}`, errParam: "messages[0].content"},
	{name: "err_text_missing", in: `{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, errParam: "messages[0].content[0].text"},
	{name: "err_image_in_system", in: `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"x"}]}`, errParam: "messages[0].content[0].type"},
	{name: "err_image_scheme", in: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, errParam: "messages[0].content[0].image_url.url"},
	{name: "err_image_not_base64", in: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, errParam: "messages[0].content[0].image_url.url"},
	{name: "err_image_media_type", in: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain;base64,YQ=="}}]}]}`, errParam: "messages[0].content[0].image_url.url"},
	{name: "err_image_url_missing", in: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, errParam: "messages[0].content[0].image_url.url"},
	{name: "err_file_id", in: `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`, errParam: "messages[0].content[0].file.file_id"},
	{name: "err_file_not_pdf", in: `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:text/csv;base64,YQ=="}}]}]}`, errParam: "messages[0].content[0].file.file_data"},
	{name: "err_tool_without_id", in: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","content":"r"}]}`, errParam: "messages[1].tool_call_id"},
	{name: "err_tool_args_array", in: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, errParam: "messages[1].tool_calls[0].function.arguments"},
	{name: "err_tool_args_invalid", in: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`, errParam: "messages[1].tool_calls[0].function.arguments"},
	{name: "err_tool_call_without_id", in: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, errParam: "messages[1].tool_calls[0].id"},
	{name: "err_n_2", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}`, errParam: "n"},
	{name: "err_max_tokens_zero", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}`, errParam: "max_tokens"},
	{name: "err_stop_number", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"stop":5}`, errParam: "stop"},
	{name: "err_reasoning_effort", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"max"}`, errParam: "reasoning_effort"},
	{name: "err_tool_type", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{"name":"g"}}]}`, errParam: "tools[0].type"},
	{name: "err_tool_name", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}`, errParam: "tools[0].function.name"},
	{name: "err_tool_parameters", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]}`, errParam: "tools[0].function.parameters"},
	{name: "err_tool_choice", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}`, errParam: "tool_choice"},
	{name: "err_tool_choice_object", in: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"allowed_tools"}}`, errParam: "tool_choice"},
}

func TestChatToMessages(t *testing.T) {
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			got, info, err := ChatToMessages([]byte(tc.in), tc.opt)
			if tc.want == "" {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v (%T), want *Error", err, err)
				}
				if ce.Param != tc.errParam {
					t.Errorf("Param = %q, want %q (msg %q)", ce.Param, tc.errParam, ce.Msg)
				}
				if ce.Msg == "" {
					t.Error("Msg = \"\", want a message")
				}
				jsonEqual(t, ce.Body(), mustErrorBody(t, ce))
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			jsonEqual(t, got, []byte(tc.want))
			if tc.info != nil && info != *tc.info {
				t.Errorf("info = %+v, want %+v", info, *tc.info)
			}
		})
	}
}

// mustErrorBody is the OpenAI error JSON expected for a request error.
func mustErrorBody(t *testing.T, e *Error) []byte {
	t.Helper()
	param := any(nil)
	if e.Param != "" {
		param = e.Param
	}
	b, err := json.Marshal(map[string]any{"error": map[string]any{
		"message": e.Msg, "type": "invalid_request_error", "param": param, "code": nil,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestErrorBody(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{400, `{"error":{"message":"m","type":"invalid_request_error","param":null,"code":null}}`},
		{401, `{"error":{"message":"m","type":"authentication_error","param":null,"code":"invalid_api_key"}}`},
		{403, `{"error":{"message":"m","type":"permission_error","param":null,"code":null}}`},
		{404, `{"error":{"message":"m","type":"invalid_request_error","param":null,"code":null}}`},
		{429, `{"error":{"message":"m","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`},
		{500, `{"error":{"message":"m","type":"server_error","param":null,"code":null}}`},
		{529, `{"error":{"message":"m","type":"server_error","param":null,"code":null}}`},
	}
	for _, tt := range tests {
		if got := ErrorBody(tt.status, "m"); string(got) != tt.want {
			t.Errorf("ErrorBody(%d) = %s, want %s", tt.status, got, tt.want)
		}
	}
}
