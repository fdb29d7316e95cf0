package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// anthMessage is the part of an Anthropic Messages answer that is used.
type anthMessage struct {
	ID         string      `json:"id"`
	Type       string      `json:"type"`
	Model      string      `json:"model"`
	Content    []anthBlock `json:"content"`
	StopReason *string     `json:"stop_reason"`
	Usage      *wireUsage  `json:"usage"`
	Error      *anthError  `json:"error"`
}

type anthBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
}

type anthError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   openAIUsage  `json:"usage"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      chatOutMessage  `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type chatOutMessage struct {
	Role             string        `json:"role"`
	Content          *string       `json:"content"`
	ReasoningContent string        `json:"reasoning_content,omitempty"`
	ToolCalls        []outToolCall `json:"tool_calls,omitempty"`
}

type outToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

var errNotMessage = errors.New("convert: upstream body is not a message")

// MessageToChat converts a non-streaming Messages answer (JSON) into a
// chat.completion JSON. model is the name reported to the client; empty
// means the upstream's.
func MessageToChat(body []byte, model string, created time.Time) ([]byte, error) {
	var m anthMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("convert: decode messages response: %w", err)
	}
	if m.Type == "error" || m.Error != nil {
		msg := ""
		if m.Error != nil {
			msg = m.Error.Type + ": " + m.Error.Message
		}
		return nil, fmt.Errorf("%w: upstream error %s", errNotMessage, msg)
	}
	if m.Type != "" && m.Type != "message" {
		return nil, fmt.Errorf("%w: type %q", errNotMessage, m.Type)
	}
	if model == "" {
		model = m.Model
	}
	var (
		text, reasoning strings.Builder
		calls           []outToolCall
	)
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			reasoning.WriteString(b.Thinking)
		case "tool_use":
			c := outToolCall{ID: b.ID, Type: "function"}
			c.Function.Name = b.Name
			args, err := compactArgs(b.Input)
			if err != nil {
				return nil, fmt.Errorf("convert: tool_use %s input: %w", b.ID, err)
			}
			c.Function.Arguments = args
			calls = append(calls, c)
		}
	}
	msg := chatOutMessage{Role: "assistant", ReasoningContent: reasoning.String(), ToolCalls: calls}
	if text.Len() > 0 || len(calls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	stop := ""
	if m.StopReason != nil {
		stop = *m.StopReason
	}
	var u usage
	u.merge(m.Usage)
	out := chatCompletion{
		ID:      "chatcmpl-" + m.ID,
		Object:  "chat.completion",
		Created: created.Unix(),
		Model:   model,
		Choices: []chatChoice{{
			Message:      msg,
			Logprobs:     json.RawMessage("null"),
			FinishReason: finishReason(stop),
		}},
		Usage: u.openAI(),
	}
	b, err := marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("convert: encode chat completion: %w", err)
	}
	return b, nil
}

// compactArgs renders a tool_use input as OpenAI's arguments string.
func compactArgs(input json.RawMessage) (string, error) {
	if isNull(input) {
		return "{}", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, input); err != nil {
		return "", err
	}
	return buf.String(), nil
}
