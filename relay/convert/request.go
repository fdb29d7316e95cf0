package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// RequestInfo is what the relay needs to know about a chat request.
type RequestInfo struct {
	Model        string // the client's model string, unmapped
	Stream       bool
	IncludeUsage bool // stream_options.include_usage
}

// chatRequest is the part of an OpenAI chat.completions body that is used;
// other fields are ignored.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Stop                json.RawMessage `json:"stop"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stream              *bool           `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
	User              *string         `json:"user"`
	ReasoningEffort   *string         `json:"reasoning_effort"`
	Tools             []chatTool      `json:"tools"`
	ToolChoice        json.RawMessage `json:"tool_choice"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls"`
	N                 *int64          `json:"n"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []chatToolCall  `json:"tool_calls"`
	ToolCallID *string         `json:"tool_call_id"`
}

type chatPart struct {
	Type     string          `json:"type"`
	Text     *string         `json:"text"`
	Refusal  *string         `json:"refusal"`
	ImageURL json.RawMessage `json:"image_url"` // {url, detail} or a bare string
	File     *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	} `json:"file"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"` // a JSON string; a bare object is accepted
	} `json:"function"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// The Anthropic request, in the field order it is written.
type msgRequest struct {
	Model         string      `json:"model"`
	System        []block     `json:"system,omitempty"`
	Messages      []message   `json:"messages"`
	MaxTokens     int64       `json:"max_tokens"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
	Metadata      *metadata   `json:"metadata,omitempty"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
	Thinking      *thinking   `json:"thinking,omitempty"`
}

type message struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is any Anthropic content block; only the fields of its type are set.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Source    *source         `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"` // tool_result: string or blocks
}

type source struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type metadata struct {
	UserID string `json:"user_id"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type thinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
}

// thinkingBudget maps reasoning_effort to a thinking budget; 0 means off.
var thinkingBudget = map[string]int64{
	"none":    0,
	"minimal": 1024,
	"low":     1024,
	"medium":  4096,
	"high":    16384,
}

func badf(param, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Param: param}
}

// ChatToMessages converts the JSON body of POST /v1/chat/completions into a
// Messages body. It keeps the client's model string. Bad input gives an
// *Error whose Msg suits an OpenAI-format 400.
func ChatToMessages(body []byte, opt Options) (out []byte, info RequestInfo, err error) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, info, decodeError(err)
	}
	info.Model = req.Model
	info.Stream = req.Stream != nil && *req.Stream
	info.IncludeUsage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage != nil && *req.StreamOptions.IncludeUsage

	if req.Model == "" {
		return nil, info, badf("model", "model is required")
	}
	if req.N != nil && *req.N > 1 {
		return nil, info, badf("n", "n>1 is not supported")
	}
	m := msgRequest{Model: req.Model, Stream: info.Stream}
	if opt.ClaudeCodeSystem {
		m.System = append(m.System, block{Type: "text", Text: claudeCodeIdentity})
	}
	if err := convertMessages(&m, req.Messages); err != nil {
		return nil, info, err
	}

	// max_tokens
	m.MaxTokens = int64(opt.DefaultMaxTokens)
	if m.MaxTokens <= 0 {
		m.MaxTokens = defaultMaxTokens
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if f.v == nil {
			continue
		}
		if *f.v <= 0 {
			return nil, info, badf(f.name, "%s must be a positive integer", f.name)
		}
		m.MaxTokens = *f.v // max_completion_tokens, checked last, wins
	}

	if m.StopSequences, err = convertStop(req.Stop); err != nil {
		return nil, info, err
	}
	if req.Temperature != nil {
		t := min(max(*req.Temperature, 0), 1)
		m.Temperature = &t
	}
	if req.TopP != nil && req.Temperature == nil {
		m.TopP = req.TopP
	}
	if req.User != nil && *req.User != "" {
		m.Metadata = &metadata{UserID: *req.User}
	}
	if err := convertTools(&m, req.Tools, req.ToolChoice, req.ParallelToolCalls); err != nil {
		return nil, info, err
	}

	// reasoning_effort → thinking
	if req.ReasoningEffort != nil {
		budget, ok := thinkingBudget[*req.ReasoningEffort]
		if !ok {
			return nil, info, badf("reasoning_effort", "unsupported reasoning_effort %q: use none, minimal, low, medium or high", *req.ReasoningEffort)
		}
		forced := m.ToolChoice != nil && (m.ToolChoice.Type == "any" || m.ToolChoice.Type == "tool")
		if budget > 0 && !forced {
			m.Thinking = &thinking{Type: "enabled", BudgetTokens: budget}
			if m.MaxTokens <= budget {
				m.MaxTokens += budget
			}
			m.Temperature = nil
			if m.TopP != nil && *m.TopP < 0.95 {
				m.TopP = nil
			}
		}
	}

	out, err = marshal(&m)
	if err != nil {
		return nil, info, fmt.Errorf("convert: encode messages request: %w", err)
	}
	return out, info, nil
}

// decodeError turns a json.Unmarshal error on the request into an *Error.
func decodeError(err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return badf("", "request body must be a JSON object")
		}
		return badf(te.Field, "invalid type for %q: expected %s, got %s", te.Field, jsonKind(te.Type), te.Value)
	}
	return badf("", "request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON type a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value"
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func convertMessages(m *msgRequest, msgs []chatMessage) error {
	if len(msgs) == 0 {
		return badf("messages", "messages must not be empty")
	}
	for i, msg := range msgs {
		p := fmt.Sprintf("messages[%d]", i)
		var (
			role   string
			blocks []block
			err    error
		)
		switch msg.Role {
		case "system", "developer":
			blocks, err = contentBlocks(msg.Content, p+".content", "text")
			if err != nil {
				return err
			}
			m.System = append(m.System, blocks...)
			continue
		case "user":
			if isNull(msg.Content) {
				return badf(p+".content", "%s.content is required", p)
			}
			role = "user"
			blocks, err = contentBlocks(msg.Content, p+".content", "text", "image_url", "file")
		case "assistant":
			role = "assistant"
			blocks, err = contentBlocks(msg.Content, p+".content", "text", "refusal")
			if err == nil {
				blocks, err = appendToolUses(blocks, msg.ToolCalls, p+".tool_calls")
			}
		case "tool":
			role = "user"
			var b block
			b, err = toolResult(msg, p)
			blocks = []block{b}
		case "":
			return badf(p+".role", "%s.role is required", p)
		default:
			return badf(p+".role", "unknown role %q in %s: use system, developer, user, assistant or tool", msg.Role, p)
		}
		if err != nil {
			return err
		}
		if len(blocks) == 0 {
			continue
		}
		if n := len(m.Messages); n > 0 && m.Messages[n-1].Role == role {
			m.Messages[n-1].Content = append(m.Messages[n-1].Content, blocks...)
			continue
		}
		m.Messages = append(m.Messages, message{Role: role, Content: blocks})
	}
	if len(m.Messages) == 0 {
		return badf("messages", "messages contain no user or assistant content")
	}
	if m.Messages[0].Role != "user" {
		return badf("messages", "the first non-system message must be from the user")
	}
	for i := range m.Messages {
		if m.Messages[i].Role == "user" {
			toolResultsFirst(m.Messages[i].Content)
		}
	}
	return nil
}

// toolResultsFirst moves tool_result blocks to the front of a merged user
// turn, keeping the order within each kind.
func toolResultsFirst(bs []block) {
	sorted := true
	seenOther := false
	for _, b := range bs {
		if b.Type != "tool_result" {
			seenOther = true
		} else if seenOther {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	out := make([]block, 0, len(bs))
	for _, b := range bs {
		if b.Type == "tool_result" {
			out = append(out, b)
		}
	}
	for _, b := range bs {
		if b.Type != "tool_result" {
			out = append(out, b)
		}
	}
	copy(bs, out)
}

// contentBlocks converts message content (a string, an array of parts, or
// null) into blocks, allowing the part types listed. Empty text is dropped.
func contentBlocks(raw json.RawMessage, param string, allowed ...string) ([]block, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badf(param, "%s is not a valid string", param)
		}
		if s == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: s}}, nil
	case '[':
	default:
		return nil, badf(param, "%s must be a string or an array of content parts", param)
	}
	var parts []chatPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, badf(param, "%s has an invalid content part: %s", param, strings.TrimPrefix(err.Error(), "json: "))
	}
	var out []block
	for i, part := range parts {
		pp := fmt.Sprintf("%s[%d]", param, i)
		ok := false
		for _, a := range allowed {
			ok = ok || a == part.Type
		}
		if !ok {
			return nil, badf(pp+".type", "unsupported content part type %q in %s: use %s", part.Type, pp, strings.Join(allowed, ", "))
		}
		b, err := partBlock(part, pp)
		if err != nil {
			return nil, err
		}
		if b.Type == "text" && b.Text == "" {
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

func partBlock(part chatPart, pp string) (block, error) {
	switch part.Type {
	case "text":
		if part.Text == nil {
			return block{}, badf(pp+".text", "%s.text is required", pp)
		}
		return block{Type: "text", Text: *part.Text}, nil
	case "refusal":
		if part.Refusal == nil {
			return block{}, badf(pp+".refusal", "%s.refusal is required", pp)
		}
		return block{Type: "text", Text: *part.Refusal}, nil
	case "image_url":
		return imageBlock(part.ImageURL, pp+".image_url")
	case "file":
		return fileBlock(part, pp+".file")
	}
	return block{}, badf(pp+".type", "unsupported content part type %q", part.Type)
}

func imageBlock(raw json.RawMessage, param string) (block, error) {
	var url string
	if r := bytes.TrimSpace(raw); len(r) > 0 && r[0] == '"' {
		if err := json.Unmarshal(r, &url); err != nil {
			return block{}, badf(param, "%s is not a valid string", param)
		}
	} else if !isNull(r) {
		var v struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return block{}, badf(param, "%s must be an object with a url", param)
		}
		url = v.URL
	}
	if url == "" {
		return block{}, badf(param+".url", "%s.url is required", param)
	}
	if strings.HasPrefix(url, "data:") {
		mediaType, data, err := parseDataURL(url, param+".url")
		if err != nil {
			return block{}, err
		}
		if !strings.HasPrefix(mediaType, "image/") {
			return block{}, badf(param+".url", "%s.url has media type %q, not an image", param, mediaType)
		}
		return block{Type: "image", Source: &source{Type: "base64", MediaType: mediaType, Data: data}}, nil
	}
	lower := strings.ToLower(url)
	if strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
		return block{Type: "image", Source: &source{Type: "url", URL: url}}, nil
	}
	return block{}, badf(param+".url", "%s.url must be a data: URL or an http(s) URL", param)
}

func fileBlock(part chatPart, param string) (block, error) {
	if part.File == nil {
		return block{}, badf(param, "%s is required", param)
	}
	if part.File.FileData == "" {
		if part.File.FileID != "" {
			return block{}, badf(param+".file_id", "file_id references are not supported; send the file inline as file_data")
		}
		return block{}, badf(param+".file_data", "%s.file_data is required", param)
	}
	mediaType, data := "application/pdf", part.File.FileData
	if strings.HasPrefix(data, "data:") {
		var err error
		if mediaType, data, err = parseDataURL(data, param+".file_data"); err != nil {
			return block{}, err
		}
	}
	if mediaType != "application/pdf" {
		return block{}, badf(param+".file_data", "only PDF files are supported, not %q", mediaType)
	}
	return block{Type: "document", Source: &source{Type: "base64", MediaType: mediaType, Data: data}}, nil
}

// parseDataURL splits "data:<mime>[;param]*;base64,<data>".
func parseDataURL(url, param string) (mediaType, data string, err error) {
	meta, data, ok := strings.Cut(strings.TrimPrefix(url, "data:"), ",")
	if !ok || data == "" {
		return "", "", badf(param, "%s is not a valid data: URL", param)
	}
	head, enc, _ := strings.Cut(meta, ";")
	if !strings.HasSuffix(";"+enc, ";base64") {
		return "", "", badf(param, "%s must be a base64 data: URL", param)
	}
	mediaType = strings.ToLower(strings.TrimSpace(head))
	if mediaType == "" {
		return "", "", badf(param, "%s has no media type", param)
	}
	return mediaType, data, nil
}

func appendToolUses(blocks []block, calls []chatToolCall, param string) ([]block, error) {
	for i, c := range calls {
		pp := fmt.Sprintf("%s[%d]", param, i)
		if c.Type != "" && c.Type != "function" {
			return nil, badf(pp+".type", "unsupported tool call type %q in %s", c.Type, pp)
		}
		if c.ID == "" {
			return nil, badf(pp+".id", "%s.id is required", pp)
		}
		if c.Function.Name == "" {
			return nil, badf(pp+".function.name", "%s.function.name is required", pp)
		}
		input, err := toolArguments(c.Function.Arguments)
		if err != nil {
			return nil, badf(pp+".function.arguments", "%s.function.arguments must be a JSON object encoded as a string", pp)
		}
		blocks = append(blocks, block{Type: "tool_use", ID: c.ID, Name: c.Function.Name, Input: input})
	}
	return blocks, nil
}

// toolArguments parses OpenAI's arguments string into a compact JSON object.
// Empty arguments mean {}; a bare object (sent by some clients) is accepted.
func toolArguments(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return json.RawMessage("{}"), nil
	}
	obj := []byte(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		obj = bytes.TrimSpace([]byte(s))
		if len(obj) == 0 {
			return json.RawMessage("{}"), nil
		}
	}
	if obj[0] != '{' || !json.Valid(obj) {
		return nil, errors.New("not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, obj); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func toolResult(msg chatMessage, p string) (block, error) {
	if msg.ToolCallID == nil || *msg.ToolCallID == "" {
		return block{}, badf(p+".tool_call_id", "%s: a tool message needs tool_call_id", p)
	}
	b := block{Type: "tool_result", ToolUseID: *msg.ToolCallID}
	raw := bytes.TrimSpace(msg.Content)
	if len(raw) > 0 && raw[0] == '"' {
		if !isEmptyJSONString(raw) {
			b.Content = raw
		}
		return b, nil
	}
	blocks, err := contentBlocks(raw, p+".content", "text", "image_url")
	if err != nil {
		return block{}, err
	}
	if len(blocks) > 0 {
		if b.Content, err = marshal(blocks); err != nil {
			return block{}, fmt.Errorf("convert: encode tool result: %w", err)
		}
	}
	return b, nil
}

func isEmptyJSONString(raw []byte) bool { return string(raw) == `""` }

func convertStop(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, nil
	}
	var list []string
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badf("stop", "stop must be a string or an array of strings")
		}
		list = []string{s}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, badf("stop", "stop must be a string or an array of strings")
	}
	out := list[:0]
	for _, s := range list {
		if strings.TrimSpace(s) != "" { // Anthropic rejects blank stop sequences
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func convertTools(m *msgRequest, tools []chatTool, choiceRaw json.RawMessage, parallel *bool) error {
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" {
			return badf(p+".type", "unsupported tool type %q in %s: only function tools are supported", t.Type, p)
		}
		if t.Function == nil || t.Function.Name == "" {
			return badf(p+".function.name", "%s.function.name is required", p)
		}
		schema := bytes.TrimSpace(t.Function.Parameters)
		if isNull(schema) {
			schema = []byte(`{"type":"object"}`)
		} else if schema[0] != '{' {
			return badf(p+".function.parameters", "%s.function.parameters must be a JSON Schema object", p)
		}
		m.Tools = append(m.Tools, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}

	choiceRaw = bytes.TrimSpace(choiceRaw)
	var choice *toolChoice
	switch {
	case isNull(choiceRaw):
	case choiceRaw[0] == '"':
		var s string
		if err := json.Unmarshal(choiceRaw, &s); err != nil {
			return badf("tool_choice", "tool_choice is not a valid string")
		}
		switch s {
		case "auto":
			choice = &toolChoice{Type: "auto"}
		case "required":
			choice = &toolChoice{Type: "any"}
		case "none":
			m.Tools = nil
			return nil
		default:
			return badf("tool_choice", "unsupported tool_choice %q: use auto, required, none or a function", s)
		}
	default:
		var c struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(choiceRaw, &c); err != nil || c.Type != "function" || c.Function.Name == "" {
			return badf("tool_choice", `tool_choice must be "auto", "required", "none" or {"type":"function","function":{"name":…}}`)
		}
		choice = &toolChoice{Type: "tool", Name: c.Function.Name}
	}
	if len(m.Tools) == 0 {
		return nil // Anthropic wants no tool_choice without tools
	}
	if parallel != nil && !*parallel {
		if choice == nil {
			choice = &toolChoice{Type: "auto"}
		}
		choice.DisableParallelToolUse = true
	}
	m.ToolChoice = choice
	return nil
}
