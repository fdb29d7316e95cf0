package relay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"keypool/relay/pool"
	"keypool/relay/sse"
)

// HeaderAccount names, on every answer an account gave, the account that
// served it.
const HeaderAccount = "X-Keypool-Account"

// commit makes the answer the client's: from here on no other account is
// tried. The record notes the account, the status and the time to the
// first byte, and the metrics count the attempt; then the answer goes out
// in the client's dialect: as it came, converted from Claude's Messages to
// chat, or out of Code Assist's envelope.
func (s *Server) commit(a *request, ans *answer) {
	status := ans.resp.StatusCode
	a.rec.Account, a.rec.Status = a.e.acct.ID, status
	a.rec.TTFB = s.now().Sub(a.rec.Time)
	s.metrics.attempts.WithLabelValues(a.e.acct.ID, statusClass(status)).Inc()
	ans.cw = clientWriter{w: a.w, rc: http.NewResponseController(a.w), idle: s.cfg.IdleTimeout}
	// Which account served, for the client and for people reading traces
	// (ids are plain ASCII, see pool.ValidID).
	a.w.Header()[HeaderAccount] = []string{a.e.acct.ID}
	switch {
	case converted(a.rt, a.e.acct):
		s.commitConverted(a, ans)
	case codeAssist(a.rt, a.e.acct) && status < 300:
		s.commitCodeAssist(a, ans)
	default:
		s.commitPlain(a, ans)
	}
}

// commitPlain passes the answer on as it came: its status, its headers
// less hop-by-hop ones, and its body, each event flushed as it arrives and
// usage read on the way.
func (s *Server) commitPlain(a *request, ans *answer) {
	h := a.w.Header()
	for k, vs := range ans.resp.Header {
		if k != HeaderAccount { // ours says who served, whatever an upstream relay says
			h[k] = vs
		}
	}
	for _, k := range dropResponse {
		h.Del(k)
	}
	// Without a length the answer ends when the handler returns, after its
	// usage record is journaled: a client that saw the whole answer can
	// count on the record surviving a crash. net/http still sends a length
	// for a short answer, or chunks a long one.
	h.Del("Content-Length")
	a.w.WriteHeader(ans.resp.StatusCode)
	if len(ans.peek) > 0 {
		if _, err := ans.cw.Write(ans.peek); err != nil {
			a.rec.Error = "client closed the connection"
			return
		}
	}
	events := !ans.encoded && isEventStream(ans.resp.Header)
	var err error
	switch {
	case ans.encoded:
		// The upstream compressed despite "identity": pass the bytes on as
		// they come, flushing each read, without reading usage.
		err = copyBuffered(flushWriter{&ans.cw}, &ans.src)
	case events:
		err = s.copyEvents(a, ans)
	default:
		err = s.copyWhole(a, ans)
	}
	switch {
	case err == nil:
	case ans.cw.err != nil || a.ctx.Err() != nil:
		a.rec.Error = "client closed the connection"
	default:
		// The upstream broke mid-answer: make the client see a broken
		// stream, not a clean end, after recording what we have.
		reason := s.brokeOff(&a.rec, err)
		s.log.LogAttrs(a.ctx, slog.LevelWarn, "stream aborted",
			slog.String("account", a.e.acct.ID), slog.String("reason", a.rec.Error))
		if events {
			abortBrokenStream(&ans.cw, a.rt.dialect, reason)
		}
		panic(http.ErrAbortHandler) // proxy's deferred record still runs
	}
}

// copyEvents passes an event stream on one event at a time, each flushed
// as it arrives, and reads usage from the events on a route that has it.
// This is the per-event path: it allocates nothing per event.
func (s *Server) copyEvents(a *request, ans *answer) error {
	if !a.rt.usage {
		_, err := sse.Copy(&ans.cw, &ans.src, ans.cw.flush, nil)
		return err
	}
	ut := a.e.up.NewTap()
	_, err := sse.Copy(&ans.cw, &ans.src, ans.cw.flush, ut.Event)
	model, u, errType := ut.Result()
	a.rec.Usage = u
	if model != "" {
		a.rec.Model = model
	}
	if errType != "" {
		a.rec.Error = "upstream stream error: " + errType
	}
	if reason, ok := a.e.up.StreamFaultOf(errType); ok {
		// The account's fault reported inside a stream (a ChatGPT plan's
		// usage limit): rest the account so the next turn goes elsewhere.
		until := s.now().Add(s.cfg.RateLimitCooldown)
		a.e.state.Cool(pool.FamilyAll, until, reason)
		s.log.LogAttrs(a.ctx, slog.LevelWarn, "account skipped", slog.String("account", a.e.acct.ID),
			slog.String("reason", errType+" mid-stream"), slog.Time("cooldown_until", until))
	}
	return err
}

// copyWhole passes on a whole answer, or a stream that is not SSE (Gemini's
// JSON array without alt=sse) read by read, and reads usage from a good
// answer on a route that has it.
func (s *Server) copyWhole(a *request, ans *answer) error {
	// A whole answer needs no flush: net/http sends the rest when the
	// handler returns.
	var dst io.Writer = &ans.cw
	if a.rec.Stream {
		dst = flushWriter{&ans.cw}
	}
	if !a.rt.usage || ans.resp.StatusCode >= 300 {
		return copyBuffered(dst, &ans.src)
	}
	kept := getBuf()
	defer putBuf(kept)
	ans.keep = keepWriter{w: dst, b: kept, limit: 4 << 20}
	err := copyBuffered(&ans.keep, &ans.src)
	if model, u, ok := a.e.up.JSONUsage(kept.Bytes()); ok {
		a.rec.Usage = u
		if model != "" {
			a.rec.Model = model
		}
	}
	return err
}

// copyBuffered copies src to dst through a pooled buffer.
func copyBuffered(dst io.Writer, src io.Reader) error {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	_, err := io.CopyBuffer(dst, src, *buf)
	return err
}

// keepWriter writes to w and keeps the first limit bytes written in b.
type keepWriter struct {
	w     io.Writer
	b     *bytes.Buffer
	limit int
}

func (k *keepWriter) Write(p []byte) (int, error) {
	n, err := k.w.Write(p)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return n, err
	}
	if room := k.limit - k.b.Len(); room > 0 {
		k.b.Write(p[:min(len(p), room)])
	}
	return n, nil
}

// breakReason says, for people, why an upstream answer broke off.
func (s *Server) breakReason(err error) string {
	if errors.Is(err, errIdle) {
		return fmt.Sprintf("no data for %v", s.cfg.IdleTimeout)
	}
	return shortNetErr(err)
}

// brokeOff fills rec for an upstream answer that broke off with err.
func (s *Server) brokeOff(rec *UsageRecord, err error) (reason string) {
	reason = s.breakReason(err)
	rec.Error, rec.ErrorKind = "upstream broke mid-answer: "+reason, ErrorConnection
	if errors.Is(err, errIdle) {
		rec.Error, rec.ErrorKind = "upstream idle mid-answer: "+reason, ErrorTimeout
	}
	return reason
}

// clientWriter writes to the client with a write deadline renewed per write,
// so a client that stops reading cannot hold a stream forever, and remembers
// a write error so the relay can tell who broke a stream.
type clientWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
	err  error
	tail [4]byte // the last bytes written, to tell whether an event is open
	n    int     // bytes written, up to len(tail)
}

func (c *clientWriter) Write(p []byte) (int, error) {
	c.rc.SetWriteDeadline(time.Now().Add(c.idle))
	n, err := c.w.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	if n >= len(c.tail) {
		copy(c.tail[:], p[n-len(c.tail):n])
	} else {
		copy(c.tail[:], c.tail[n:])
		copy(c.tail[len(c.tail)-n:], p[:n])
	}
	c.n = min(c.n+n, len(c.tail))
	return n, err
}

// betweenEvents reports whether what was written so far ends with a whole
// event (or nothing was written), so another event may follow.
func (c *clientWriter) betweenEvents() bool {
	t := c.tail[:]
	return c.n == 0 || c.n >= 2 && t[2] == '\n' && t[3] == '\n' ||
		c.n == 4 && string(t) == "\r\n\r\n"
}

// abortBrokenStream tells a client whose event stream broke off, in its own
// protocol, that the answer failed, then aborts the handler (it never
// returns), so a client that ignores the event still sees the stream
// broken, never a clean end. Nothing is added if an event was cut in half,
// or the client is gone.
func abortBrokenStream(cw *clientWriter, d *dialect, reason string) {
	if cw.err == nil && cw.betweenEvents() {
		cw.Write(d.streamError(http.StatusBadGateway,
			"Keypool: the upstream answer broke off mid-stream ("+reason+"); the answer is incomplete, send the request again"))
		cw.flush()
	}
	panic(http.ErrAbortHandler) // the deferred usage record still runs
}

func (c *clientWriter) flush() error {
	if err := c.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		if c.err == nil {
			c.err = err
		}
		return err
	}
	return nil
}

// flushWriter flushes after every write.
type flushWriter struct{ cw *clientWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.cw.Write(p)
	if err == nil {
		err = f.cw.flush()
	}
	return n, err
}

// statusClasses are the metrics' status labels, made once.
var statusClasses = [...]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx"}

// statusClass is the label of a status for the metrics: "2xx".
func statusClass(code int) string {
	if c := code / 100; c >= 0 && c < len(statusClasses) {
		return statusClasses[c]
	}
	return string(rune('0'+code/100)) + "xx"
}
