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
	"keypool/relay/failover"
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
	streamError: anthropic.ErrorEvent,
}

var responsesDialect = &dialect{
	proto: pool.ProtocolResponses,
	parse: parseJSON(func(h http.Header, req *openai.Request) reqInfo {
		return reqInfo{Model: req.Model, Stream: req.Stream, Session: openai.SessionID(h, req)}
	}),
	writeError:  openai.WriteError,
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

// tap reads usage from an upstream's stream events.
type tap = provider.Tap

// adapter is how the relay talks to an account's upstream: its kind's
// provider, in the shape the request path calls it.
type adapter struct {
	*provider.Provider
	base      func(a pool.Account) string
	auth      func(h http.Header, a pool.Account, cred Credential)
	newTap    func() tap
	jsonUsage func(body []byte) (string, pool.Usage, bool)
	classify  failover.Classifier
}

// adapters holds an adapter per known kind, made once.
var adapters = func() map[pool.Kind]*adapter {
	m := make(map[pool.Kind]*adapter)
	for _, p := range provider.All() {
		m[p.Kind] = &adapter{
			Provider:  p,
			base:      p.Base,
			auth:      func(h http.Header, a pool.Account, cred Credential) { p.Auth(h, a, cred.APIKey) },
			newTap:    p.NewTap,
			jsonUsage: p.JSONUsage,
			classify:  p.Classify,
		}
	}
	return m
}()

// anthropicAdapter answers for kinds this build does not know, as the
// relay always has.
var anthropicAdapter = adapters[pool.KindClaudeAPI]

// adapterFor is the upstream adapter of an account kind.
func adapterFor(k pool.Kind) *adapter {
	if a := adapters[k]; a != nil {
		return a
	}
	return anthropicAdapter
}
