// Package relaytest runs fake upstreams on loopback that speak Anthropic's
// wire format (JSON answers, SSE streams, error bodies and rate-limit
// headers), scripted per test. It is imported only by tests.
package relaytest

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Reply is one scripted upstream answer.
type Reply struct {
	Status int               // default 200
	Header map[string]string // extra headers
	Body   string            // a JSON body (non-stream)
	Events []string          // SSE events, each without its trailing blank line
	Gap    time.Duration     // pause before each event
	// Hang waits this long before answering (to trip the relay's idle timeout).
	Hang time.Duration
	// Break closes the connection after this many events (0: never).
	Break int
	// Step, if set, is waited on before each event after the first, so a test
	// can release events one by one.
	Step chan struct{}
	// Gzip compresses the answer whatever the request's Accept-Encoding,
	// flushing the compressor after each event, like a misbehaving upstream.
	Gzip bool
	// Chunks, instead of Body or Events, are written as they are, each
	// flushed, with Step and Gap applied between them: a streamed answer
	// that is not SSE, such as Gemini's JSON array without alt=sse.
	Chunks []string
}

// Request is what the upstream received.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// Upstream is a fake Anthropic API. Replies are served in order; when the
// script runs out, Default is used.
type Upstream struct {
	*httptest.Server
	Default Reply

	mu       sync.Mutex
	script   []Reply
	requests []Request
	// Cancelled receives once per request whose client went away mid-answer.
	Cancelled chan struct{}
}

// New starts a fake upstream that answers with a short message by default.
func New() *Upstream {
	u := &Upstream{Default: Reply{Body: Message("claude-sonnet-4-5", "hello", 10, 5)}, Cancelled: make(chan struct{}, 64)}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	return u
}

// Push appends replies to the script.
func (u *Upstream) Push(r ...Reply) {
	u.mu.Lock()
	u.script = append(u.script, r...)
	u.mu.Unlock()
}

// Requests returns what the upstream has received so far.
func (u *Upstream) Requests() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Request(nil), u.requests...)
}

// Count is the number of requests received.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.requests = append(u.requests, Request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	rep := u.Default
	if len(u.script) > 0 {
		rep, u.script = u.script[0], u.script[1:]
	}
	u.mu.Unlock()

	if rep.Hang > 0 {
		select {
		case <-time.After(rep.Hang):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	rc := http.NewResponseController(w)
	var out io.Writer = w
	flush := rc.Flush
	if rep.Gzip {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		out = zw
		flush = func() error {
			if err := zw.Flush(); err != nil {
				return err
			}
			return rc.Flush()
		}
	}
	if rep.Chunks != nil {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		for i, c := range rep.Chunks {
			if !u.pause(r, rep, i > 0) {
				return
			}
			if _, err := io.WriteString(out, c); err != nil || flush() != nil {
				u.Cancelled <- struct{}{}
				return
			}
		}
		return
	}
	if rep.Events == nil {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("Request-Id", "req_fake")
		w.WriteHeader(status)
		io.WriteString(out, rep.Body)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	rc.Flush()
	for i, ev := range rep.Events {
		if rep.Break > 0 && i == rep.Break {
			conn, _, err := rc.Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if !u.pause(r, rep, i > 0) {
			return
		}
		if _, err := io.WriteString(out, ev+"\n\n"); err != nil {
			u.Cancelled <- struct{}{}
			return
		}
		if err := flush(); err != nil {
			u.Cancelled <- struct{}{}
			return
		}
	}
}

// pause waits for rep's Step (if set and step) and Gap before the next
// event or chunk. It reports false, after noting the cancellation, if the
// client left.
func (u *Upstream) pause(r *http.Request, rep Reply, step bool) bool {
	if step && rep.Step != nil {
		select {
		case <-rep.Step:
		case <-r.Context().Done():
			u.Cancelled <- struct{}{}
			return false
		}
	}
	if rep.Gap > 0 {
		select {
		case <-time.After(rep.Gap):
		case <-r.Context().Done():
			u.Cancelled <- struct{}{}
			return false
		}
	}
	return true
}

// Message is a non-streaming Messages answer.
func Message(model, text string, in, out int) string {
	b, _ := json.Marshal(map[string]any{
		"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
		"content":     []any{map[string]any{"type": "text", "text": text}},
		"stop_reason": "end_turn", "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": in, "output_tokens": out,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
	})
	return string(b)
}

// Stream is a Messages event stream whose text is the given pieces, with
// usage as a real stream reports it (input and cache counts at the start,
// cumulative output at the end).
func Stream(model string, pieces []string, in, out, cacheWrite, cacheRead int) []string {
	ev := func(name string, v any) string {
		b, _ := json.Marshal(v)
		return "event: " + name + "\ndata: " + string(b)
	}
	evs := []string{
		ev("message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": []any{},
			"stop_reason": nil, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": in, "output_tokens": 1,
				"cache_creation_input_tokens": cacheWrite, "cache_read_input_tokens": cacheRead}}}),
		ev("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}}),
		ev("ping", map[string]any{"type": "ping"}),
	}
	for _, p := range pieces {
		evs = append(evs, ev("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": p}}))
	}
	evs = append(evs,
		ev("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}),
		ev("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": out}}),
		ev("message_stop", map[string]any{"type": "message_stop"}),
	)
	return evs
}

// Pieces returns n text pieces "w0 ", "w1 ", ….
func Pieces(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("w%d ", i)
	}
	return out
}

// Error is an Anthropic error body.
func Error(typ, msg string) string {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
	return string(b)
}

// Joined is the exact bytes an upstream writes for events.
func Joined(events []string) string { return strings.Join(events, "\n\n") + "\n\n" }

// DeadAddr returns a loopback URL where every connection is refused, as at
// a port nothing listens on, and which nothing else in the process or on
// the machine can start listening on meanwhile, as it could on a port that
// was free a moment ago. It is the same for the whole process.
func DeadAddr() string {
	deadOnce.Do(func() { deadURL = "http://" + reservePort() })
	return deadURL
}

var (
	deadOnce sync.Once
	deadURL  string
)

// reservePort binds a TCP socket to a port on 127.0.0.1 and never listens
// on it, nor closes it: a connection there is refused (no listener), and
// since the socket does not allow address reuse, no other socket can bind
// the port while the process lives. net.Listen cannot do this, as it
// always listens.
func reservePort() string {
	syscall.ForkLock.RLock() // no child may inherit the socket
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_TCP)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		panic(fmt.Sprintf("relaytest: socket: %v", err))
	}
	exclusive(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		panic(fmt.Sprintf("relaytest: bind 127.0.0.1:0: %v", err))
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		panic(fmt.Sprintf("relaytest: getsockname: %v", err))
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		panic(fmt.Sprintf("relaytest: bound to %T, want an IPv4 address", sa))
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port))
}

// Response is a non-streaming Responses API answer.
func Response(model, text string, in, cached, out int) string {
	b, _ := json.Marshal(responseObject(model, text, in, cached, out, "completed"))
	return string(b)
}

func responseObject(model, text string, in, cached, out int, status string) map[string]any {
	return map[string]any{
		"id": "resp_fake", "object": "response", "created_at": 1764150000, "status": status, "model": model,
		"output": []any{map[string]any{"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}},
		"usage": map[string]any{"input_tokens": in, "input_tokens_details": map[string]any{"cached_tokens": cached},
			"output_tokens": out, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": in + out},
	}
}

// ResponseStream is a Responses API event stream whose text is the given
// pieces, ending with response.completed and its usage.
func ResponseStream(model string, pieces []string, in, cached, out int) []string {
	seq := 0
	ev := func(name string, v map[string]any) string {
		v["type"] = name
		v["sequence_number"] = seq
		seq++
		b, _ := json.Marshal(v)
		return "event: " + name + "\ndata: " + string(b)
	}
	created := responseObject(model, "", 0, 0, 0, "in_progress")
	delete(created, "usage")
	created["output"] = []any{}
	evs := []string{
		ev("response.created", map[string]any{"response": created}),
		ev("response.output_item.added", map[string]any{"output_index": 0, "item": map[string]any{
			"type": "message", "id": "msg_fake", "status": "in_progress", "role": "assistant", "content": []any{}}}),
	}
	text := ""
	for _, p := range pieces {
		text += p
		evs = append(evs, ev("response.output_text.delta", map[string]any{"item_id": "msg_fake", "output_index": 0, "content_index": 0, "delta": p}))
	}
	evs = append(evs,
		ev("response.output_text.done", map[string]any{"item_id": "msg_fake", "output_index": 0, "content_index": 0, "text": text}),
		ev("response.completed", map[string]any{"response": responseObject(model, text, in, cached, out, "completed")}),
	)
	return evs
}

// OpenAIError is an OpenAI error body.
func OpenAIError(typ, code, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": typ, "code": code, "message": msg, "param": nil}})
	return string(b)
}

// GeminiResponse is a generateContent answer (one stream chunk too).
func GeminiResponse(model, text string, prompt, cached, out int) string {
	b, _ := json.Marshal(map[string]any{
		"candidates": []any{map[string]any{"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}},
			"finishReason": "STOP", "index": 0}},
		"usageMetadata": map[string]any{"promptTokenCount": prompt, "candidatesTokenCount": out,
			"cachedContentTokenCount": cached, "totalTokenCount": prompt + out},
		"modelVersion": model, "responseId": "resp-fake",
	})
	return string(b)
}

// GeminiStream is a streamGenerateContent?alt=sse stream: data-only events,
// each chunk with a piece of text and the running usage.
func GeminiStream(model string, pieces []string, prompt, cached int) []string {
	var evs []string
	for i, p := range pieces {
		evs = append(evs, "data: "+GeminiResponse(model, p, prompt, cached, i+1))
	}
	return evs
}

// GoogleError is a google.rpc error body.
func GoogleError(code int, status, msg string, details ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "status": status, "message": msg, "details": details}})
	return string(b)
}

// StallAfterFirstWord is a Step for a Stream reply that sends its opening
// and first content event (message_start, content_block_start) and then
// never another: a stream that stalls once content has reached the client.
func StallAfterFirstWord() chan struct{} {
	step := make(chan struct{}, 1)
	step <- struct{}{}
	return step
}
