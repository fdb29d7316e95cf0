package relay

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"keypool/relay/anthropic"
	"keypool/relay/convert"
	"keypool/relay/gemini"
	"keypool/relay/pool"
	"keypool/relay/provider"
	"keypool/relay/sse"
)

// converted reports whether a request on rt answered by account a goes
// through conversion: OpenAI-format chat answered by a Claude account.
func converted(rt route, a pool.Account) bool {
	return rt.dialect == chatDialect && providerOf(a.Kind).Converts(rt.dialect.proto)
}

// convertRequest turns a chat.completions body into a Messages body. An
// account that logs in (a Claude subscription, the one Anthropic-API kind
// with a login) gets Claude Code's identity block, which its token
// requires.
func convertRequest(rt route, a pool.Account, body []byte) ([]byte, error) {
	if rt.method != http.MethodPost {
		return nil, nil
	}
	out, _, err := convert.ChatToMessages(body, convert.Options{ClaudeCodeSystem: providerOf(a.Kind).IsOAuth()})
	return out, err
}

// maxConvertedBody bounds a non-streaming answer read whole for conversion.
const maxConvertedBody = 64 << 20

// commitConverted answers an OpenAI-format client from a Claude account's
// answer: errors in OpenAI's format, a message as a chat.completion, a
// stream as chat.completion.chunk events, flushed as each event converts.
func (s *Server) commitConverted(a *request, ans *answer) {
	w, rec := a.w, &a.rec
	if ans.resp.StatusCode >= 400 {
		msg := anthropic.ParseError(ans.peek).Message
		if msg == "" {
			msg = http.StatusText(ans.resp.StatusCode)
		}
		rec.Error = msg
		chatDialect.writeError(w, ans.resp.StatusCode, msg, 0)
		return
	}
	if a.rt.method == http.MethodGet {
		s.writeConvertedModels(w, &ans.src, rec)
		return
	}
	var opts struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	json.Unmarshal(a.body, &opts) // parsed once already; a failure leaves usage off
	created := s.now()
	if isEventStream(ans.resp.Header) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		var usage anthropic.StreamTap
		st := convert.NewStream(rec.Model, opts.StreamOptions.IncludeUsage, created)
		_, err := sse.Transform(&ans.cw, &ans.src, ans.cw.flush, func(out, ev []byte) ([]byte, error) {
			usage.Event(ev)
			return st.Event(out, ev)
		})
		rec.Usage = usage.Usage
		if usage.Error != "" {
			rec.Error = "upstream stream error: " + usage.Error
		}
		s.abortIfUpstreamBroke(a, &ans.cw, chatDialect, err)
		return
	}
	body, ok := readConverted(w, &ans.src, rec, chatDialect)
	if !ok {
		return
	}
	if _, u, ok := anthropic.ResponseUsage(body); ok {
		rec.Usage = u
	}
	out, err := convert.MessageToChat(body, "", created)
	if err != nil {
		rec.Status, rec.Error = http.StatusBadGateway, "cannot convert the upstream answer"
		chatDialect.writeError(w, http.StatusBadGateway, "cannot convert the upstream answer: "+err.Error(), 0)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// writeConvertedModels answers GET /openai/v1/models from Anthropic's list.
func (s *Server) writeConvertedModels(w http.ResponseWriter, src io.Reader, rec *UsageRecord) {
	var in struct {
		Data []struct {
			ID        string    `json:"id"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(src, maxConvertedBody)).Decode(&in); err != nil {
		rec.Status, rec.Error = http.StatusBadGateway, "cannot read the model list"
		chatDialect.writeError(w, http.StatusBadGateway, "cannot read the upstream model list", 0)
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, m := range in.Data {
		out.Data = append(out.Data, model{ID: m.ID, Object: "model", Created: m.CreatedAt.Unix(), OwnedBy: "anthropic"})
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// codeAssist reports whether a Gemini call on rt goes to a Google login's
// Code Assist endpoint (envelope in, envelope out).
func codeAssist(rt route, a pool.Account) bool {
	return rt.dialect == geminiDialect && providerOf(a.Kind).API == provider.APICodeAssist
}

// commitCodeAssist answers a Gemini client from Code Assist: each stream
// event, or the whole answer, taken out of its {"response": …} envelope.
func (s *Server) commitCodeAssist(a *request, ans *answer) {
	w, rec := a.w, &a.rec
	if isEventStream(ans.resp.Header) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(ans.resp.StatusCode)
		var usage gemini.StreamTap
		_, err := sse.Transform(&ans.cw, &ans.src, ans.cw.flush, func(out, ev []byte) ([]byte, error) {
			start := len(out)
			out, err := gemini.UnwrapCodeAssistEvent(out, ev)
			usage.Event(out[start:])
			return out, err
		})
		_, rec.Usage, _ = usage.Result()
		s.abortIfUpstreamBroke(a, &ans.cw, geminiDialect, err)
		return
	}
	body, ok := readConverted(w, &ans.src, rec, geminiDialect)
	if !ok {
		return
	}
	out := gemini.UnwrapCodeAssist(body)
	if _, u, ok := gemini.ResponseUsage(out); ok {
		rec.Usage = u
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ans.resp.StatusCode)
	w.Write(out)
}

// abortIfUpstreamBroke ends a converted stream the client must see as broken
// when err came from the upstream rather than from the client leaving,
// telling the client in d's protocol first.
func (s *Server) abortIfUpstreamBroke(a *request, cw *clientWriter, d *dialect, err error) {
	if err != nil && cw.err == nil && a.ctx.Err() == nil {
		abortBrokenStream(cw, d, s.brokeOff(&a.rec, err))
	}
}

// readConverted reads a whole answer that is to be converted; if the upstream
// breaks off, the client gets a 502 in d's format and ok is false.
func readConverted(w http.ResponseWriter, src io.Reader, rec *UsageRecord, d *dialect) (body []byte, ok bool) {
	body, err := io.ReadAll(io.LimitReader(src, maxConvertedBody))
	if err != nil {
		rec.Status, rec.Error, rec.ErrorKind = http.StatusBadGateway, "upstream broke mid-answer", ErrorConnection
		if errors.Is(err, errIdle) {
			rec.Error, rec.ErrorKind = "upstream idle mid-answer", ErrorTimeout
		}
		d.writeError(w, http.StatusBadGateway, "the upstream answer broke off", 0)
		return nil, false
	}
	return body, true
}
