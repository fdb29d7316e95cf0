package relay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"keypool/relay/anthropic"
	"keypool/relay/convert"
	"keypool/relay/gemini"
	"keypool/relay/openai"
	"keypool/relay/pool"
	"keypool/relay/provider"
	"keypool/relay/session"
	"keypool/relay/wire"
)

// reqInfo is what the relay reads from a request body.
type reqInfo struct {
	Model   string
	Stream  bool
	Session string
}

// dialect is a client protocol: how its requests are read and its errors
// written. Every answer the relay makes up is in the client's own dialect.
type dialect struct {
	proto      pool.Protocol
	parse      func(h http.Header, body []byte) (reqInfo, error)
	writeError func(w http.ResponseWriter, status int, msg string, retry time.Duration)
	// writeSpent answers a request no account can serve until back, as the
	// client's own provider answers a spent plan (nil: writeError's 429).
	writeSpent func(w http.ResponseWriter, msg string, back time.Time, retry time.Duration)
	// streamError is the event that tells a client, after the 200, that its
	// stream failed.
	streamError func(status int, msg string) []byte
	query       func(raw string) string // the query sent upstream; nil: unchanged
}

var errNoModel = errors.New("model: field required")

// parseJSON decodes a request body as T and reads what the relay needs
// from it.
func parseJSON[T any](read func(h http.Header, req *T) reqInfo) func(http.Header, []byte) (reqInfo, error) {
	return func(h http.Header, body []byte) (reqInfo, error) {
		var req T
		if err := json.Unmarshal(body, &req); err != nil {
			return reqInfo{}, err
		}
		return read(h, &req), nil
	}
}

var anthropicDialect = &dialect{
	proto: pool.ProtocolAnthropic,
	parse: parseJSON(func(h http.Header, req *session.Request) reqInfo {
		return reqInfo{Model: req.Model, Stream: req.Stream, Session: session.ID(h, req)}
	}),
	writeError:  anthropic.WriteError,
	writeSpent:  anthropic.WriteSpent,
	streamError: anthropic.ErrorEvent,
}

var responsesDialect = &dialect{
	proto: pool.ProtocolResponses,
	parse: parseJSON(func(h http.Header, req *openai.Request) reqInfo {
		return reqInfo{Model: req.Model, Stream: req.Stream, Session: openai.SessionID(h, req)}
	}),
	writeError:  openai.WriteError,
	writeSpent:  openai.WriteUsageLimit,
	streamError: openai.FailedEvent,
}

var geminiDialect = &dialect{
	proto: pool.ProtocolGemini,
	parse: parseJSON(func(_ http.Header, req *gemini.Request) reqInfo {
		// The model comes from the path; the caller fills it in.
		return reqInfo{Session: gemini.SessionID(req)}
	}),
	writeError:  gemini.WriteError,
	streamError: gemini.ErrorEvent,
	query:       gemini.UpstreamQuery,
}

// chatRequest is the part of a chat.completions request the relay reads.
type chatRequest struct {
	Model    string            `json:"model"`
	Stream   bool              `json:"stream"`
	Messages []json.RawMessage `json:"messages"`
}

var chatDialect = &dialect{
	proto: pool.ProtocolChat,
	parse: parseJSON(func(_ http.Header, req *chatRequest) reqInfo {
		return reqInfo{Model: req.Model, Stream: req.Stream, Session: chatSession(req.Messages)}
	}),
	writeError: func(w http.ResponseWriter, status int, msg string, retry time.Duration) {
		wire.WriteError(w, status, convert.ErrorBody(status, msg), retry)
	},
	streamError: convert.ErrorChunk,
}

// chatSession fingerprints a chat by its opening messages (the system
// prompt and first user turn), which stay the same from turn to turn.
func chatSession(msgs []json.RawMessage) string {
	if len(msgs) == 0 {
		return ""
	}
	h := sha256.New()
	for i, m := range msgs[:min(len(msgs), 2)] {
		h.Write(m)
		h.Write([]byte{0})
		if i == 0 && !bytes.Contains(m, []byte(`"system"`)) && !bytes.Contains(m, []byte(`"developer"`)) {
			break
		}
	}
	return "chat:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// dialectFor picks the error dialect of a path the router did not match.
func dialectFor(path string) *dialect {
	switch {
	case strings.HasPrefix(path, "/openai/v1/chat"):
		return chatDialect
	case strings.HasPrefix(path, "/openai/"):
		return responsesDialect
	case strings.HasPrefix(path, "/gemini/"):
		return geminiDialect
	}
	return anthropicDialect
}

// providerOf is an account kind's provider. A kind this build does not
// know is listed in /health as unsupported and never picked; should it be
// asked anyway, it is treated as an Anthropic API key, as the relay always
// has.
func providerOf(k pool.Kind) *provider.Provider {
	if p := provider.For(k); p != nil {
		return p
	}
	return anthropicAPI
}

var anthropicAPI = provider.For(pool.KindClaudeAPI)
