package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"keypool/relay/sse"
)

// Stream converts Anthropic SSE events into chat.completion.chunk SSE output,
// one event at a time (PROTOCOLS §5.3). It is not safe for concurrent use.
//
// Text, thinking and tool-argument deltas are copied as raw JSON strings
// from the event into the chunk, without decoding; only the rare events
// (message_start, content_block_start, message_delta, error) are decoded.
type Stream struct {
	model        string
	includeUsage bool
	created      int64

	msgID string
	head  []byte // `data: {"id":…,"object":…,"created":…,"model":…,`
	delta []byte // head + `"choices":[{"index":0,"delta":`

	data  []byte      // the joined data lines of an event that has several
	tools []toolState // tool_use blocks seen, by OpenAI tool index
	usage usage

	finished bool // a finish_reason was sent
	done     bool // [DONE] was sent
}

type toolState struct {
	block int64 // the Anthropic content block index
	args  bool  // some arguments were sent
}

// NewStream starts a conversion. model is the name reported to the client
// (empty means the upstream's); includeUsage is the client's
// stream_options.include_usage.
func NewStream(model string, includeUsage bool, created time.Time) *Stream {
	return &Stream{model: model, includeUsage: includeUsage, created: created.Unix()}
}

// Usage returns the token counts converted so far: prompt tokens include
// cache writes and reads.
func (s *Stream) Usage() (prompt, completion int64) {
	return s.usage.prompt(), s.usage.Output
}

// Event takes one raw Anthropic SSE event (as received, with or without its
// final blank line) and appends the OpenAI SSE bytes for it to dst. It does
// not retain ev. Unknown events, pings and events after the end produce
// nothing. An error is returned, with dst unchanged, when the event's data
// is not JSON.
func (s *Stream) Event(dst, ev []byte) ([]byte, error) {
	if s.done {
		return dst, nil
	}
	name, data := s.split(ev)
	if len(data) == 0 {
		return dst, nil
	}
	if !json.Valid(data) {
		return dst, fmt.Errorf("convert: %q event: data is not valid JSON", name)
	}
	typ := rawString(member(data, "type"))
	if typ == nil {
		typ = name
	}
	switch string(typ) {
	case "content_block_delta":
		return s.blockDelta(dst, data), nil
	case "message_start":
		return s.messageStart(dst, data), nil
	case "content_block_start":
		return s.blockStart(dst, data), nil
	case "content_block_stop":
		return s.blockStop(dst, data), nil
	case "message_delta":
		return s.messageDelta(dst, data), nil
	case "message_stop":
		return s.messageStop(dst), nil
	case "error":
		return s.errorEvent(dst, data), nil
	}
	return dst, nil // ping and unknown events
}

// split finds the event name and the data of one SSE event. A single data
// line is returned in place; several are joined with "\n" into s.data.
func (s *Stream) split(ev []byte) (name, data []byte) {
	n := 0
	for len(ev) > 0 {
		var field, value []byte
		field, value, ev = sse.Line(ev)
		switch string(field) {
		case "event":
			name = value
		case "data":
			n++
			switch n {
			case 1:
				data = value
			case 2:
				s.data = append(s.data[:0], data...)
				fallthrough
			default:
				s.data = append(append(s.data, '\n'), value...)
				data = s.data
			}
		}
	}
	return name, data
}

func (s *Stream) ensureHead() {
	if s.head != nil {
		return
	}
	h := append([]byte(nil), `data: {"id":`...)
	h = appendJSONString(h, "chatcmpl-"+s.msgID)
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, s.created, 10)
	h = append(h, `,"model":`...)
	h = appendJSONString(h, s.model)
	h = append(h, ',')
	s.head = h
	s.delta = append(append([]byte(nil), h...), `"choices":[{"index":0,"delta":`...)
}

// startChunk opens a chunk up to its delta object.
func (s *Stream) startChunk(dst []byte) []byte {
	s.ensureHead()
	return append(dst, s.delta...)
}

// endChunk closes a chunk after its delta object.
func (s *Stream) endChunk(dst []byte, finish string) []byte {
	dst = append(dst, `,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, finish)
	}
	dst = append(dst, "}]"...)
	if s.includeUsage {
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, "}\n\n"...)
}

func (s *Stream) messageStart(dst, data []byte) []byte {
	var v struct {
		Message struct {
			ID    string     `json:"id"`
			Model string     `json:"model"`
			Usage *wireUsage `json:"usage"`
		} `json:"message"`
	}
	_ = json.Unmarshal(data, &v) // valid JSON; a field of the wrong type leaves zeros
	s.msgID = v.Message.ID
	if s.model == "" {
		s.model = v.Message.Model
	}
	s.head, s.delta = nil, nil
	s.usage.merge(v.Message.Usage)
	dst = s.startChunk(dst)
	dst = append(dst, `{"role":"assistant","content":""}`...)
	return s.endChunk(dst, "")
}

func (s *Stream) blockStart(dst, data []byte) []byte {
	var v struct {
		Index        int64 `json:"index"`
		ContentBlock struct {
			Type     string `json:"type"`
			ID       string `json:"id"`
			Name     string `json:"name"`
			Text     string `json:"text"`
			Thinking string `json:"thinking"`
		} `json:"content_block"`
	}
	if json.Unmarshal(data, &v) != nil {
		return dst
	}
	b := v.ContentBlock
	switch b.Type {
	case "text", "thinking":
		field, text := "content", b.Text
		if b.Type == "thinking" {
			field, text = "reasoning_content", b.Thinking
		}
		if text == "" {
			return dst
		}
		dst = s.startChunk(dst)
		dst = append(dst, `{"`...)
		dst = append(dst, field...)
		dst = append(dst, `":`...)
		dst = appendJSONString(dst, text)
		dst = append(dst, '}')
		return s.endChunk(dst, "")
	case "tool_use":
		k := len(s.tools)
		s.tools = append(s.tools, toolState{block: v.Index})
		dst = s.startChunk(dst)
		dst = append(dst, `{"tool_calls":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(k), 10)
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, b.ID)
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = appendJSONString(dst, b.Name)
		dst = append(dst, `,"arguments":""}}]}`...)
		return s.endChunk(dst, "")
	}
	return dst
}

func (s *Stream) blockDelta(dst, data []byte) []byte {
	d := member(data, "delta")
	switch string(rawString(member(d, "type"))) {
	case "text_delta":
		return s.textChunk(dst, `{"content":`, member(d, "text"))
	case "thinking_delta":
		return s.textChunk(dst, `{"reasoning_content":`, member(d, "thinking"))
	case "input_json_delta":
		v := member(d, "partial_json")
		k := s.tool(member(data, "index"))
		if k < 0 || !isNonEmptyString(v) {
			return dst
		}
		s.tools[k].args = true
		return s.argsChunk(dst, k, v)
	}
	return dst // signature_delta, citations_delta, …
}

// textChunk writes a delta whose one field is the raw JSON string v.
func (s *Stream) textChunk(dst []byte, open string, v []byte) []byte {
	if !isNonEmptyString(v) {
		return dst
	}
	dst = s.startChunk(dst)
	dst = append(dst, open...)
	dst = append(dst, v...)
	dst = append(dst, '}')
	return s.endChunk(dst, "")
}

// argsChunk writes a tool_calls delta carrying arguments, the raw JSON string v.
func (s *Stream) argsChunk(dst []byte, k int, v []byte) []byte {
	dst = s.startChunk(dst)
	dst = append(dst, `{"tool_calls":[{"index":`...)
	dst = strconv.AppendInt(dst, int64(k), 10)
	dst = append(dst, `,"function":{"arguments":`...)
	dst = append(dst, v...)
	dst = append(dst, `}}]}`...)
	return s.endChunk(dst, "")
}

func (s *Stream) blockStop(dst, data []byte) []byte {
	k := s.tool(member(data, "index"))
	if k < 0 || s.tools[k].args {
		return dst
	}
	s.tools[k].args = true
	return s.argsChunk(dst, k, []byte(`"{}"`))
}

// tool finds the OpenAI tool index of the tool_use block whose raw index is
// given, or -1.
func (s *Stream) tool(rawIndex []byte) int {
	idx, ok := parseIndex(rawIndex)
	if !ok {
		return -1
	}
	for k := len(s.tools) - 1; k >= 0; k-- {
		if s.tools[k].block == idx {
			return k
		}
	}
	return -1
}

// parseIndex reads a raw JSON non-negative integer without allocating.
func parseIndex(raw []byte) (int64, bool) {
	if len(raw) == 0 || len(raw) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func (s *Stream) messageDelta(dst, data []byte) []byte {
	var v struct {
		Delta struct {
			StopReason *string `json:"stop_reason"`
		} `json:"delta"`
		Usage *wireUsage `json:"usage"`
	}
	_ = json.Unmarshal(data, &v) // valid JSON; a field of the wrong type leaves zeros
	s.usage.merge(v.Usage)
	if v.Delta.StopReason == nil || s.finished {
		return dst
	}
	s.finished = true
	dst = s.startChunk(dst)
	dst = append(dst, "{}"...)
	return s.endChunk(dst, finishReason(*v.Delta.StopReason))
}

func (s *Stream) messageStop(dst []byte) []byte {
	s.done = true
	if s.includeUsage {
		s.ensureHead()
		dst = append(dst, s.head...)
		dst = append(dst, `"choices":[],"usage":`...)
		u, _ := json.Marshal(s.usage.openAI()) // only integers: cannot fail
		dst = append(dst, u...)
		dst = append(dst, "}\n\n"...)
	}
	return append(dst, "data: [DONE]\n\n"...)
}

func (s *Stream) errorEvent(dst, data []byte) []byte {
	var v struct {
		Error anthError `json:"error"`
	}
	_ = json.Unmarshal(data, &v)
	if v.Error.Type == "" {
		v.Error.Type = "api_error"
	}
	if v.Error.Message == "" {
		v.Error.Message = "upstream error"
	}
	s.done = true
	dst = append(dst, "data: "...)
	dst = append(dst, errorJSON(anthropicErrorStatus(v.Error.Type), v.Error.Message, "", v.Error.Type)...)
	return append(dst, "\n\ndata: [DONE]\n\n"...)
}

// member returns the raw value of key in the JSON object obj, or nil. obj
// must be valid JSON (or nil); the first of duplicate keys wins.
func member(obj []byte, key string) []byte {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return nil
		}
		kEnd := skipString(obj, i)
		k := obj[i:kEnd]
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return nil
		}
		i = skipSpace(obj, i+1)
		vEnd := skipValue(obj, i)
		if string(rawString(k)) == key {
			return obj[i:vEnd]
		}
		i = skipSpace(obj, vEnd)
		if i >= len(obj) || obj[i] != ',' {
			return nil
		}
		i++
	}
}

// rawString returns the contents of the raw JSON string v, unescaping only
// when it holds an escape; nil if v is not a string.
func rawString(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil
	}
	return []byte(s)
}

// isNonEmptyString reports whether v is a raw JSON string other than "".
func isNonEmptyString(v []byte) bool {
	return len(v) > 2 && v[0] == '"' && v[len(v)-1] == '"'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return len(b)
}

// appendJSONString appends s as a JSON string, without HTML escaping.
// Invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
