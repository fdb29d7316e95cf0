package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func FuzzChatToMessages(f *testing.F) {
	for _, tc := range requestCases {
		f.Add([]byte(tc.in), tc.opt.ClaudeCodeSystem)
	}
	f.Fuzz(func(t *testing.T, body []byte, claudeCode bool) {
		out, _, err := ChatToMessages(body, Options{ClaudeCodeSystem: claudeCode})
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if !json.Valid(ce.Body()) {
				t.Fatalf("error body %s, want JSON", ce.Body())
			}
			return
		}
		var req struct {
			Model     string    `json:"model"`
			Messages  []message `json:"messages"`
			MaxTokens int64     `json:"max_tokens"`
		}
		if err := json.Unmarshal(out, &req); err != nil {
			t.Fatalf("output: %v, want valid JSON:\n%s", err, out)
		}
		if req.Model == "" || len(req.Messages) == 0 || req.Messages[0].Role != "user" || req.MaxTokens <= 0 {
			t.Fatalf("output %s, want a model, a first message from the user and max_tokens > 0", out)
		}
		for i := 1; i < len(req.Messages); i++ {
			if req.Messages[i].Role == req.Messages[i-1].Role {
				t.Fatalf("messages %d and %d are both %s, want roles that alternate: %s", i-1, i, req.Messages[i].Role, out)
			}
		}
	})
}

// streamSep separates events in FuzzStream's input.
const streamSep = "\n\n"

func FuzzStream(f *testing.F) {
	for _, tc := range streamCases {
		var b strings.Builder
		for _, e := range tc.events {
			b.WriteString(strings.TrimRight(e, "\r\n"))
			b.WriteString(streamSep)
		}
		f.Add([]byte(b.String()), tc.includeUsage)
	}
	f.Fuzz(func(t *testing.T, in []byte, includeUsage bool) {
		s := NewStream("m", includeUsage, testCreated)
		var out []byte
		for _, e := range bytes.Split(in, []byte(streamSep)) {
			before := len(out)
			var err error
			out, err = s.Event(out, e)
			if err != nil && len(out) != before {
				t.Fatalf("Event wrote %q and returned %v, want nothing written with an error", out[before:], err)
			}
		}
		rest := out
		for len(rest) > 0 {
			line, after, ok := bytes.Cut(rest, []byte("\n\n"))
			if !ok || !bytes.HasPrefix(line, []byte("data: ")) || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("SSE framing at %q, want \"data: <one line>\\n\\n\"", rest)
			}
			p := line[len("data: "):]
			if string(p) != "[DONE]" && !json.Valid(p) {
				t.Fatalf("chunk %s, want JSON or [DONE]", p)
			}
			rest = after
		}
		s.Usage()
	})
}
