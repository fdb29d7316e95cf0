package relay

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"keypool/relay/convert"
	"keypool/relay/failover"
	"keypool/relay/gemini"
	"keypool/relay/pool"
	"keypool/relay/provider"
	"keypool/relay/sse"
)

// verdict is a failover verdict plus the upstream status that caused it.
type verdict struct {
	failover.Verdict
	status int
}

// outcome is how one upstream call ended.
type outcome struct {
	done    bool    // the client has its answer, or has gone
	refresh bool    // a 401 to an OAuth account: refresh its token and call again
	v       verdict // neither: why the account is left
}

// answer is an upstream's answer on its way to the client.
type answer struct {
	resp    *http.Response
	src     idleReader // resp.Body, read with the idle timer running
	encoded bool       // compressed despite "identity": passed on as it is
	peek    []byte     // the start of an error answer, read to judge it
	cw      clientWriter
	keep    keepWriter // tees a whole answer's start off for its usage
}

// try sends the request to the account a.e. done reports that the client
// has its answer (or has gone); otherwise v says why the account was left.
// An OAuth account answered 401 gets its token refreshed and the request
// once more.
func (s *Server) try(a *request) (done bool, v verdict) {
	id := a.e.acct.ID
	var err error
	if a.cred, err = s.cfg.Credentials.Credential(a.ctx, id); err != nil {
		return false, s.credentialVerdict(err)
	}
	for call := 1; ; call++ {
		out := s.send(a, call == 1)
		if !out.refresh {
			return out.done, out.v
		}
		// send asks for a refresh only of a Refresher, on the first call.
		if a.cred, err = s.cfg.Credentials.(Refresher).Refresh(a.ctx, id, a.cred); err != nil {
			return false, s.credentialVerdict(err)
		}
		s.log.LogAttrs(a.ctx, slog.LevelInfo, "retrying after a token refresh", slog.String("account", id))
	}
}

// credentialVerdict leaves an account whose credential could not be had. The
// message of a credential error is ours and names no secret.
func (s *Server) credentialVerdict(err error) verdict {
	if errors.Is(err, pool.ErrNeedsLogin) {
		return verdict{Verdict: failover.Verdict{Action: failover.Next, Until: s.now().Add(s.cfg.UnavailableCooldown),
			Reason: pool.ReasonNeedsLogin, Why: "needs login: its refresh token was refused"}}
	}
	if errors.Is(err, pool.ErrNeedsKey) {
		return verdict{Verdict: failover.Verdict{Action: failover.Next, Until: s.now().Add(s.cfg.UnavailableCooldown),
			Reason: pool.ReasonNeedsKey, Why: "needs a key: its API key is missing"}}
	}
	// Not the upstream's doing: the account has no usable credential here
	// (keychain locked, secret missing). Rest it briefly and say so.
	return verdict{Verdict: failover.Verdict{Action: failover.Next, Until: s.now().Add(s.cfg.OverloadCooldown),
		Reason: pool.ReasonUnavailable, Why: "no credential: " + err.Error()}}
}

// send makes one call to the account's upstream and, unless the answer says
// to leave the account (or, when mayRefresh, to refresh its token first),
// commits it to the client.
func (s *Server) send(a *request, mayRefresh bool) outcome {
	tr, err := a.e.transportFor(a.cred.ProxyPassword)
	if err != nil {
		return outcome{v: verdict{Verdict: failover.TransportError(s.now(), s.policy, "transport: "+err.Error())}}
	}
	uctx, cancel := context.WithCancelCause(a.ctx)
	defer cancel(nil)
	// Until headers arrive the wait is the idle timeout for a stream (its
	// headers come at once) and the longer header timeout otherwise (they
	// come when the whole answer is ready); after that, the idle timeout.
	wait := s.cfg.IdleTimeout
	if !a.rec.Stream && a.rt.method == http.MethodPost {
		wait = s.cfg.HeaderTimeout
	}
	idle := time.AfterFunc(wait, func() { cancel(errIdle) })
	defer idle.Stop()

	ureq, err := s.upstreamRequest(uctx, a)
	if err != nil {
		return s.unsendable(a, err)
	}
	end := a.e.state.Begin()
	defer end()
	resp, err := tr.RoundTrip(ureq)
	if err != nil {
		if a.ctx.Err() != nil {
			// The client left; the account did nothing wrong.
			a.rec.Account, a.rec.Status, a.rec.Error = a.e.acct.ID, 499, "client closed the connection"
			return outcome{done: true}
		}
		return outcome{v: verdict{Verdict: s.noAnswer(err, errors.Is(context.Cause(uctx), errIdle), wait)}}
	}
	defer resp.Body.Close()
	if qs := planQuota(a.e.up, resp.Header); len(qs) > 0 {
		a.e.state.SetQuota(qs)
		a.e.runway.Observe(s.now(), qs)
	}
	if v, leave := s.readOverage(a, resp.Header); leave {
		return outcome{v: v}
	}

	ans := &answer{resp: resp, src: idleReader{r: resp.Body, t: idle, d: s.cfg.IdleTimeout, ctx: uctx}}
	defer ans.release()
	if out, ok := s.precommit(a, ans, mayRefresh); !ok {
		return out
	}
	s.commit(a, ans)
	return outcome{done: true}
}

// unsendable is the outcome of a request that cannot be made for the
// account: a chat request Claude cannot express is the client's fault,
// answered in its own format; a bad API URL leaves the account.
func (s *Server) unsendable(a *request, err error) outcome {
	var cerr *convert.Error
	if errors.As(err, &cerr) {
		a.rec.Status, a.rec.Error = http.StatusBadRequest, cerr.Msg
		a.w.Header().Set("Content-Type", "application/json")
		a.w.WriteHeader(http.StatusBadRequest)
		a.w.Write(cerr.Body())
		return outcome{done: true}
	}
	return outcome{v: verdict{Verdict: failover.TransportError(s.now(), s.policy, "bad api_url: "+err.Error())}}
}

// precommit reads as much of an answer as decides what becomes of it. It
// reports true when the answer is the client's. Otherwise out says what to
// do instead: refresh the token (a 401 to an OAuth account), or leave the
// account with the failover table's verdict on an error.
func (s *Server) precommit(a *request, ans *answer, mayRefresh bool) (outcome, bool) {
	status := ans.resp.StatusCode
	if status == http.StatusUnauthorized && mayRefresh && provider.IsOAuth(a.e.acct.Kind) {
		if _, ok := s.cfg.Credentials.(Refresher); ok {
			return outcome{refresh: true}, false
		}
	}
	enc := ans.resp.Header.Get("Content-Encoding")
	ans.encoded = enc != "" && !strings.EqualFold(enc, "identity")
	if status < 300 && a.rec.Stream && !ans.encoded && isEventStream(ans.resp.Header) {
		return s.holdOpening(a, ans)
	}
	if status < 400 {
		return outcome{}, true
	}
	ans.peek, _ = io.ReadAll(io.LimitReader(&ans.src, errBodyPeek))
	plain := ans.peek
	if ans.encoded {
		plain = decoded(enc, ans.peek)
	}
	fv := a.e.up.Classify(status, ans.resp.Header, plain, a.fam, s.now(), s.policy)
	if fv.Action == failover.Next {
		return outcome{v: verdict{Verdict: fv, status: status}}, false
	}
	return outcome{}, true
}

// How much of a stream's opening is held back, at most, while the relay
// waits for its first word: a stream that fails before it is left like an
// error answer, and the client never sees it. Openings (message_start,
// ping, response.created) are a few hundred bytes and come at once.
const (
	openingBytes = 16 << 10
	openingTime  = 3 * time.Second
)

// holdOpening reads a stream's opening events up to its first content. A
// stream that fails (an error event) or breaks before it leaves the
// account, as a 529 or a broken connection would; otherwise what was read
// goes to the client first, and the rest follows as it comes.
func (s *Server) holdOpening(a *request, ans *answer) (outcome, bool) {
	ans.src.pooled = copyBufs.Get().(*[]byte)
	buf := (*ans.src.pooled)[:openingBytes]
	n, ev, o, err := sse.Head(&ans.src, buf, a.e.up.StreamOpening, s.now(), openingTime, s.now)
	status := ans.resp.StatusCode
	switch {
	case o == sse.Failed:
		return outcome{v: verdict{status: status, Verdict: s.failedOpening(a, ev)}}, false
	case err != nil && a.ctx.Err() == nil:
		return outcome{v: verdict{status: status, Verdict: s.noAnswer(err, errors.Is(err, errIdle), s.cfg.IdleTimeout)}}, false
	}
	ans.src.head = buf[:n]
	return outcome{}, true
}

// failedOpening is the verdict on a stream that failed before its first
// word: like a 529, the account is left for the overload cooldown; an
// error its provider calls the account's (a ChatGPT plan's usage limit, in
// response.failed) rests it for that reason.
func (s *Server) failedOpening(a *request, ev []byte) failover.Verdict {
	tap := a.e.up.NewTap()
	tap.Event(ev)
	_, _, errType := tap.Result()
	why := "stream failed before any content"
	if errType != "" {
		why += ": " + errType
	}
	if reason, ok := a.e.up.StreamFaultOf(errType); ok {
		return failover.Verdict{Action: failover.Next, Until: s.now().Add(s.cfg.RateLimitCooldown), Reason: reason, Why: why}
	}
	return failover.Verdict{Action: failover.Next, Until: s.now().Add(s.policy.OverloadCooldown), Reason: pool.ReasonOverloaded, Why: why}
}

// release gives back what the answer borrowed.
func (ans *answer) release() { ans.src.releaseHead() }

// upstreamRequest builds the request to the account's upstream: the client's
// headers and body unchanged, except its credential, hop-by-hop headers and
// the account's auth.
func (s *Server) upstreamRequest(ctx context.Context, a *request) (*http.Request, error) {
	r, rt, e, body := a.r, a.rt, a.e, a.body
	up := e.up
	upPath := rt.upstream
	if converted(rt, e.acct) {
		// OpenAI-format chat answered by a Claude account: the request
		// becomes a Messages request.
		var err error
		if body, err = convertRequest(rt, e.acct, body); err != nil {
			return nil, err
		}
		upPath = rt.convertedUpstream
	}
	q := r.URL.RawQuery
	if rt.dialect.query != nil {
		q = rt.dialect.query(q)
	}
	if codeAssist(rt, e.acct) {
		// A Google login speaks Code Assist: the request goes in its
		// envelope, to its method path.
		var err error
		if body, err = gemini.WrapCodeAssist(rt.call, e.acct.Project, body); err != nil {
			return nil, err
		}
		upPath, q = gemini.CodeAssistPath(rt.call), ""
	}
	target := up.Base(e.acct) + upPath
	if q != "" {
		target += "?" + q
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	ureq, err := http.NewRequestWithContext(ctx, r.Method, target, rd)
	if err != nil {
		return nil, err
	}
	h := r.Header.Clone()
	for _, k := range dropRequest {
		h.Del(k)
	}
	if c := r.Header.Get("Connection"); c != "" {
		for _, f := range strings.Split(c, ",") {
			h.Del(strings.TrimSpace(f))
		}
	}
	up.Auth(h, e.acct, a.cred.APIKey)
	if converted(rt, e.acct) {
		if h.Get("Anthropic-Version") == "" {
			h.Set("Anthropic-Version", "2023-06-01")
		}
		if r.Method == http.MethodPost {
			h.Set("Content-Type", "application/json")
		}
	}
	// Answers come back uncompressed: the relay must see event boundaries
	// to flush each one and read usage, and the client is on loopback.
	h.Set("Accept-Encoding", "identity")
	ureq.Header = h
	ureq.ContentLength = int64(len(body))
	return ureq, nil
}

func isEventStream(h http.Header) bool {
	return hasPrefixFold(h.Get("Content-Type"), "text/event-stream")
}

// idleReader runs the idle timer only while the relay waits on the
// upstream: from each Read call until it returns. Time spent writing to a
// slow client is not the upstream's, and must not make it look idle.
// A read that failed because the timer fired says so (errIdle).
type idleReader struct {
	r   io.Reader
	t   *time.Timer
	d   time.Duration
	ctx context.Context // cancelled with errIdle when t fires
	// head is read before r: a stream's opening, held back until it was
	// known to carry content, in pooled (borrowed from copyBufs).
	head   []byte
	pooled *[]byte
}

// releaseHead gives the opening's buffer back.
func (ir *idleReader) releaseHead() {
	if ir.pooled != nil {
		copyBufs.Put(ir.pooled)
		ir.pooled, ir.head = nil, nil
	}
}

func (ir *idleReader) Read(p []byte) (int, error) {
	if len(ir.head) > 0 {
		n := copy(p, ir.head)
		if ir.head = ir.head[n:]; len(ir.head) == 0 {
			ir.releaseHead() // a held stream keeps no buffer for its whole life
		}
		return n, nil
	}
	ir.t.Reset(ir.d)
	n, err := ir.r.Read(p)
	ir.t.Stop()
	if err != nil && err != io.EOF && errors.Is(context.Cause(ir.ctx), errIdle) {
		err = fmt.Errorf("%w: %w", errIdle, err)
	}
	return n, err
}

// shortNetErr strips the request URL from a transport error: it says where,
// never with what credential, but is long.
func shortNetErr(err error) string {
	var ue interface{ Unwrap() error }
	msg := err.Error()
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			msg = inner.Error()
		}
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// decoded returns a gzip body decompressed (for reading an error's
// reason), or b itself when it cannot be.
func decoded(encoding string, b []byte) []byte {
	if !strings.EqualFold(encoding, "gzip") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return b
	}
	out, _ := io.ReadAll(io.LimitReader(zr, errBodyPeek))
	return out
}
