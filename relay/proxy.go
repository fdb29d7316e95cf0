package relay

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"keypool/relay/convert"
	"keypool/relay/failover"
	"keypool/relay/gemini"
	"keypool/relay/pool"
	"keypool/relay/sched"
	"keypool/relay/sse"
)

var errIdle = errors.New("no data from upstream within the idle timeout")

// errBodyPeek bounds how much of an upstream error answer is read to
// classify it before deciding whether to pass it on.
const errBodyPeek = 64 << 10

// hop-by-hop headers never cross the relay; the client's credential for the
// relay never goes upstream.
var dropRequest = []string{"Connection", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length",
	// the client's credentials for the relay, in each form the guard accepts
	"X-Api-Key", "X-Goog-Api-Key", "Authorization",
	// the client's OpenAI organisation and project would not match the account's
	"Openai-Organization", "Openai-Project"}
var dropResponse = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// proxy serves one API request: read the body once, then try accounts until
// one answers with something the client should see.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, rt route, client string) {
	ctx := r.Context()
	start := s.now()
	rec := UsageRecord{Time: start, Route: rt.name, ClientID: client}
	// final is the account of the attempt under way or just ended, whose
	// outcome the record tells; an account that was left is counted as it
	// is left.
	var final *entry
	defer func() {
		rec.Duration = s.now().Sub(start)
		if final != nil && rec.Account == final.acct.ID {
			final.stats.count(rec.Outcome())
		}
		if s.cfg.Cost != nil && rec.Model != "" && rec.Account != "" {
			rec.CostUSD, _ = s.cfg.Cost(rec.Model, rec.Usage, rec.Time)
			if rec.CostUSD > 0 {
				s.spend(&rec)
			}
		}
		s.metrics.observe(&rec)
		s.cfg.Usage.Record(rec)
	}()

	var body []byte
	if r.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.fail(w, rt, &rec, http.StatusRequestEntityTooLarge,
					fmt.Sprintf("request body is larger than the relay's limit of %d bytes (server.max_body_bytes)", s.cfg.MaxBodyBytes), 0)
				return
			}
			rec.Status, rec.Error = 499, "client closed while sending the body"
			return
		}
	}
	if cap := s.cfg.ClientDailyBudgetUSD[client]; cap > 0 {
		if day, _ := s.clientState(client).Spent(start); day >= cap {
			y, m, d := start.Date()
			left := time.Date(y, m, d+1, 0, 0, 0, 0, start.Location()).Sub(start)
			s.fail(w, rt, &rec, http.StatusTooManyRequests,
				fmt.Sprintf("this client key's daily budget of $%.2f is spent ($%.2f today); it resets at midnight", cap, day), left)
			return
		}
	}
	var req reqInfo
	if rt.model {
		// encoding/json would quietly turn bad bytes into U+FFFD while the
		// relay forwards the original body; refuse it here instead.
		if !utf8.Valid(body) {
			s.fail(w, rt, &rec, http.StatusBadRequest, "request body is not valid UTF-8", 0)
			return
		}
		var err error
		if req, err = rt.dialect.parse(r.Header, body); err != nil {
			s.fail(w, rt, &rec, http.StatusBadRequest, "request body is not valid JSON: "+jsonErr(err), 0)
			return
		}
		if rt.pathModel != "" {
			req.Model, req.Stream = rt.pathModel, rt.pathStream
		}
		if real, ok := s.cfg.ModelMap[req.Model]; ok && real != "" && real != req.Model {
			if rt.pathModel != "" {
				rt.upstream = strings.Replace(rt.upstream, "/models/"+req.Model+":", "/models/"+real+":", 1)
				rt.call.Model = real
			} else if body, err = withModel(body, real); err != nil {
				s.fail(w, rt, &rec, http.StatusBadRequest, "request body is not a JSON object", 0)
				return
			}
			req.Model = real
		}
		if s.modelRules(client) && ambiguousModel(body) {
			// encoding/json matches keys regardless of case; upstreams do
			// not. A second "MODEL" key could slip past the rules.
			s.fail(w, rt, &rec, http.StatusBadRequest, `the body has more than one "model" key (in different cases)`, 0)
			return
		}
		if pats := s.cfg.ClientModels[client]; len(pats) > 0 && !matchAny(pats, req.Model) {
			rec.Model = req.Model
			s.fail(w, rt, &rec, http.StatusForbidden, fmt.Sprintf("model %q is not allowed for this client key", req.Model), 0)
			return
		}
		if req.Model == "" {
			s.fail(w, rt, &rec, http.StatusBadRequest, errNoModel.Error(), 0)
			return
		}
		rec.Model, rec.Stream = req.Model, req.Stream
	}
	fam := pool.FamilyOf(req.Model)
	var sess string
	if rt.sticky {
		sess = req.Session
	}

	set := s.accounts.Load()
	cands := set.cands[rt.dialect.proto]
	served := set.served[rt.dialect.proto]
	var triedBuf [16]bool
	tried := triedBuf[:0]
	if len(cands) > len(triedBuf) {
		tried = make([]bool, len(cands))
	} else {
		tried = triedBuf[:len(cands)]
	}
	skip := func(i int) bool {
		a := cands[i].Account
		return tried[i] || !a.Allows(req.Model) || !rt.accepts(a.Kind) ||
			// Claude answers converted chat for Claude models only, unless
			// the account's model rules say otherwise: "gpt-4o" must reach
			// an OpenAI-compatible account, not Anthropic.
			(req.Model != "" && converted(rt, a) && len(a.Models) == 0 && !strings.HasPrefix(req.Model, "claude"))
	}

	s.waitForBound(ctx, cands, sess, fam)
	waited := false
	for range 2*len(cands) + 1 {
		now := s.now()
		i, _ := s.picker.Pick(now, cands, fam, sess, skip)
		if i < 0 {
			first := sched.Earliest(now, cands, fam, req.Model)
			if wait := first.Sub(now); !waited && !first.IsZero() && wait > 0 && wait <= s.cfg.MaxThrottleWait {
				// Every account is briefly throttled: waiting a moment beats
				// handing the client a 429 it would wait out anyway.
				waited = true
				if !sleepCtx(ctx, wait) {
					rec.endOnLastTried()
					rec.Status, rec.Error = 499, "client left while waiting for an account"
					return
				}
				clear(tried)
				continue
			}
			s.noAccount(w, rt, &rec, served, fam, first, now)
			return
		}
		tried[i] = true
		e := served[i]
		final = e
		done, v := s.attempt(ctx, w, r, rt, e, body, &rec)
		if done {
			if rec.Status >= 200 && rec.Status < 400 {
				s.picker.Bind(s.now(), sess, e.acct.ID)
			}
			return
		}
		if ctx.Err() != nil {
			// The client left while the account was failing: no cooldown
			// on the strength of an answer nobody waited for.
			rec.Account, rec.Status, rec.Error = e.acct.ID, 499, "client closed the connection"
			return
		}
		final = nil
		s.leave(ctx, e, v, fam, &rec)
	}
	s.noAccount(w, rt, &rec, served, fam, sched.Earliest(s.now(), cands, fam, req.Model), s.now())
}

// spend counts a priced request against its account's and client's
// budgets, resting the account when a cap is reached.
func (s *Server) spend(rec *UsageRecord) {
	for _, e := range s.accounts.Load().all {
		if e.acct.ID == rec.Account {
			e.state.AddSpend(rec.Time, rec.CostUSD)
			if e.acct.DailyBudgetUSD > 0 || e.acct.MonthlyBudgetUSD > 0 {
				s.checkBudget(e, rec.Time)
			}
			break
		}
	}
	if s.cfg.ClientDailyBudgetUSD[rec.ClientID] > 0 {
		s.clientState(rec.ClientID).AddSpend(rec.Time, rec.CostUSD)
	}
}

// withModel returns body with its top-level "model" replaced (a [models]
// alias). Only aliased requests are re-encoded.
func withModel(body []byte, model string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	v, err := json.Marshal(model)
	if err != nil {
		return nil, err
	}
	m["model"] = v
	return json.Marshal(m)
}

// modelRules reports whether any model rule could refuse this client's
// request: its own allowed models, or an account's model list.
func (s *Server) modelRules(client string) bool {
	return len(s.cfg.ClientModels[client]) > 0 || s.accounts.Load().modelRules
}

// ambiguousModel reports a top-level key that is "model" in another case.
func ambiguousModel(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	for k := range m {
		if k != "model" && strings.EqualFold(k, "model") {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, model string) bool {
	for _, p := range patterns {
		if pool.MatchWildcard(p, model) {
			return true
		}
	}
	return false
}

// waitForBound keeps a conversation on its account through a throttle short
// enough to wait out: moving would cost the prompt cache.
func (s *Server) waitForBound(ctx context.Context, cands []sched.Candidate, sess string, fam pool.Family) {
	if sess == "" || s.cfg.MaxThrottleWait <= 0 {
		return
	}
	b, ok := s.cfg.Bindings.Get(sess)
	now := s.now()
	if !ok || !b.Expires.After(now) {
		return
	}
	for _, c := range cands {
		if c.Account.ID != b.Account || !c.Account.Enabled {
			continue
		}
		if cd, cooling := c.State.CoolingFor(now, fam); cooling && cd.Reason == pool.ReasonRateLimited {
			if wait := cd.Until.Sub(now); wait <= s.cfg.MaxThrottleWait {
				sleepCtx(ctx, wait)
			}
		}
		return
	}
}

// leave cools an account after a failed attempt, counts the failure on it
// and notes it in the record.
func (s *Server) leave(ctx context.Context, e *entry, v verdict, fam pool.Family, rec *UsageRecord) {
	f := pool.FamilyAll
	if v.Family != pool.FamilyAll {
		f = fam
	}
	e.state.Cool(f, v.Until, v.Reason)
	kind := verdictKind(v)
	e.stats.count(kind)
	e.stats.last.Store(&Failure{Time: s.now(), Kind: kind, Message: cause(e.acct.ID, kind, v.Why)})
	rec.Failover = append(rec.Failover, FailoverStep{Account: e.acct.ID, Status: v.status, Reason: v.Why, Kind: kind})
	s.metrics.failovers.WithLabelValues(e.acct.ID, string(v.Reason)).Inc()
	family := string(f)
	if f == pool.FamilyAll {
		family = "all"
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "account skipped",
		slog.String("account", e.acct.ID), slog.String("reason", v.Why),
		slog.String("family", family), slog.Time("cooldown_until", v.Until))
}

// noAccount answers when no account can serve, with the time one returns.
// When this request tried accounts, the answer says what each did, the
// last one's failure being the record's own; otherwise it says why the
// accounts rest.
func (s *Server) noAccount(w http.ResponseWriter, rt route, rec *UsageRecord, served []*entry, fam pool.Family, first, now time.Time) {
	var msg strings.Builder
	kind := ErrorKind("")
	if n := len(rec.Failover); n > 0 {
		for i, st := range rec.Failover {
			if i > 0 {
				msg.WriteString("; ")
			}
			msg.WriteString(cause(st.Account, st.Kind, st.Reason))
		}
		kind = rec.endOnLastTried()
	}
	if first.IsZero() {
		if msg.Len() > 0 {
			msg.WriteString("; ")
		}
		msg.WriteString("no enabled account can serve this request: add one (keypool import FILE, or serve --config FILE) or enable one")
		s.fail(w, rt, rec, http.StatusServiceUnavailable, msg.String(), 0)
		return
	}
	wait := max(first.Sub(now), time.Second)
	back := fmt.Sprintf("the first is back at %s (in %s)", first.UTC().Format(time.RFC3339), wait.Round(time.Second))
	if msg.Len() > 0 {
		msg.WriteString("; every account is resting: " + back)
	} else {
		// Nothing tried: every account was already resting. Say after what.
		msg.WriteString("all accounts are cooling down; " + back)
		if f := latestFailure(served, fam, now); f != nil {
			kind = f.Kind
			msg.WriteString("; last error " + ago(now, f.Time) + ": " + f.Message)
		}
	}
	s.fail(w, rt, rec, allOutStatus(kind), msg.String(), wait)
}

// allOutStatus is the status of the answer when every account is out,
// after a last failure of kind: a gateway error for an upstream that could
// not be reached or did not answer, Anthropic's overloaded for one that
// failed, a rate limit otherwise.
func allOutStatus(kind ErrorKind) int {
	switch kind {
	case ErrorConnection:
		return http.StatusBadGateway
	case ErrorTimeout:
		return http.StatusGatewayTimeout
	case ErrorServer:
		return 529
	}
	return http.StatusTooManyRequests
}

// latestFailure is the most recent failure of an account that rests now
// (for family fam), or nil.
func latestFailure(served []*entry, fam pool.Family, now time.Time) *Failure {
	var out *Failure
	for _, e := range served {
		f := e.stats.last.Load()
		if f == nil || out != nil && !f.Time.After(out.Time) {
			continue
		}
		if _, cooling := e.state.CoolingFor(now, fam); cooling {
			out = f
		}
	}
	return out
}

// ago is how long before now t was, for a message: "12s ago".
func ago(now, t time.Time) string {
	return max(now.Sub(t), 0).Round(time.Second).String() + " ago"
}

// fail answers with an error in the client's own format and notes it.
func (s *Server) fail(w http.ResponseWriter, rt route, rec *UsageRecord, status int, msg string, retry time.Duration) {
	rec.Status, rec.Error = status, msg
	rec.TTFB = s.now().Sub(rec.Time)
	rt.dialect.writeError(w, status, msg, retry)
}

// attempt sends the request to one account. done reports that the client has
// its answer (or has gone); otherwise v says why the account was left.
func (s *Server) attempt(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route, e *entry, body []byte, rec *UsageRecord) (done bool, v verdict) {
	cred, err := s.cfg.Credentials.Credential(ctx, e.acct.ID)
	if err != nil {
		return false, s.credentialVerdict(err)
	}
	return s.send(ctx, w, r, rt, e, body, rec, cred, false)
}

// credentialVerdict leaves an account whose credential could not be had. The
// message of a credential error is ours and names no secret.
func (s *Server) credentialVerdict(err error) verdict {
	if errors.Is(err, ErrNeedsLogin) {
		return verdict{Verdict: failover.Verdict{Action: failover.Next, Until: s.now().Add(s.cfg.UnavailableCooldown),
			Reason: pool.ReasonNeedsLogin, Why: "needs login: its refresh token was refused"}}
	}
	if errors.Is(err, ErrNeedsKey) {
		return verdict{Verdict: failover.Verdict{Action: failover.Next, Until: s.now().Add(s.cfg.UnavailableCooldown),
			Reason: pool.ReasonNeedsKey, Why: "needs a key: its API key is missing"}}
	}
	// Not the upstream's doing: the account has no usable credential here
	// (keychain locked, secret missing). Rest it briefly and say so.
	return verdict{Verdict: failover.Verdict{Action: failover.Next, Until: s.now().Add(s.cfg.OverloadCooldown),
		Reason: pool.ReasonUnavailable, Why: "no credential: " + err.Error()}}
}

// send makes one upstream call with cred. An OAuth account answered 401
// gets one refresh and one retry (retried marks the second call).
func (s *Server) send(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route, e *entry, body []byte, rec *UsageRecord, cred Credential, retried bool) (done bool, v verdict) {
	t, err := e.transportFor(cred.ProxyPassword)
	if err != nil {
		return false, verdict{Verdict: failover.TransportError(s.now(), s.policy, "transport: "+err.Error())}
	}

	uctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Until headers arrive the wait is the idle timeout for a stream (its
	// headers come at once) and the longer header timeout otherwise (they
	// come when the whole answer is ready); after that, the idle timeout.
	wait := s.cfg.IdleTimeout
	if !rec.Stream && rt.method == http.MethodPost {
		wait = s.cfg.HeaderTimeout
	}
	idle := time.AfterFunc(wait, func() { cancel(errIdle) })
	defer idle.Stop()

	ureq, err := s.upstreamRequest(uctx, r, rt, e, cred, body)
	var cerr *convert.Error
	if errors.As(err, &cerr) {
		// The client's chat request cannot be expressed for Claude: its
		// fault, in its own format.
		rec.Status, rec.Error = http.StatusBadRequest, cerr.Msg
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write(cerr.Body())
		return true, verdict{}
	}
	if err != nil {
		return false, verdict{Verdict: failover.TransportError(s.now(), s.policy, "bad api_url: "+err.Error())}
	}
	end := e.state.Begin()
	defer end()
	resp, err := t.RoundTrip(ureq)
	if err != nil {
		if ctx.Err() != nil {
			// The client left; the account did nothing wrong.
			rec.Account, rec.Status, rec.Error = e.acct.ID, 499, "client closed the connection"
			return true, verdict{}
		}
		return false, verdict{Verdict: s.noAnswer(err, errors.Is(context.Cause(uctx), errIdle), wait)}
	}
	defer resp.Body.Close()
	src := &idleReader{r: resp.Body, t: idle, d: s.cfg.IdleTimeout, ctx: uctx}
	e.state.SetQuota(planQuota(e.acct.Kind, resp.Header))

	if resp.StatusCode == http.StatusUnauthorized && !retried && e.acct.Kind.IsOAuth() {
		if rf, ok := s.cfg.Credentials.(Refresher); ok {
			resp.Body.Close()
			idle.Stop()
			fresh, err := rf.Refresh(ctx, e.acct.ID, cred)
			if err != nil {
				return false, s.credentialVerdict(err)
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "retrying after a token refresh", slog.String("account", e.acct.ID))
			return s.send(ctx, w, r, rt, e, body, rec, fresh, true)
		}
	}
	encoded := resp.Header.Get("Content-Encoding") != "" && !strings.EqualFold(resp.Header.Get("Content-Encoding"), "identity")
	var peek []byte
	if resp.StatusCode >= 400 {
		peek, _ = io.ReadAll(io.LimitReader(src, errBodyPeek))
		plain := peek
		if encoded {
			plain = decoded(resp.Header.Get("Content-Encoding"), peek)
		}
		fv := adapterFor(e.acct.Kind).classify(resp.StatusCode, resp.Header, plain, pool.FamilyOf(rec.Model), s.now(), s.policy)
		if fv.Action == failover.Next {
			return false, verdict{Verdict: fv, status: resp.StatusCode}
		}
	}

	if converted(rt, e.acct) {
		return true, s.commitConverted(ctx, w, rt, e, resp, src, peek, body, rec)
	}
	if codeAssist(rt, e.acct) && resp.StatusCode < 300 {
		return true, s.commitCodeAssist(ctx, w, e, resp, src, rec)
	}

	// Commit: from here on the answer is the client's.
	rec.Account = e.acct.ID
	rec.Status = resp.StatusCode
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	for _, k := range dropResponse {
		h.Del(k)
	}
	// Without a length the answer ends when the handler returns, after its
	// usage record is journaled: a client that saw the whole answer can
	// count on the record surviving a crash. net/http still sends a length
	// for a short answer, or chunks a long one.
	h.Del("Content-Length")
	w.WriteHeader(resp.StatusCode)
	rec.TTFB = s.now().Sub(rec.Time)
	s.metrics.attempts.WithLabelValues(e.acct.ID, statusClass(resp.StatusCode)).Inc()

	cw := &clientWriter{w: w, rc: http.NewResponseController(w), idle: s.cfg.IdleTimeout}
	if len(peek) > 0 {
		if _, err := cw.Write(peek); err != nil {
			rec.Error = "client closed the connection"
			return true, verdict{}
		}
	}
	var copyErr error
	if encoded {
		// The upstream compressed despite "identity": pass the bytes on as
		// they come, flushing each read, without reading usage.
		buf := copyBufs.Get().(*[]byte)
		_, copyErr = io.CopyBuffer(flushWriter{cw}, src, *buf)
		copyBufs.Put(buf)
	} else if isEventStream(resp.Header) {
		var t tap
		var tapFn func([]byte)
		if rt.usage {
			t = adapterFor(e.acct.Kind).newTap()
			tapFn = t.Event
		}
		_, copyErr = sse.Copy(cw, src, cw.flush, tapFn)
		if t != nil {
			model, u, errType := t.Result()
			rec.Usage = u
			if model != "" {
				rec.Model = model
			}
			if errType != "" {
				rec.Error = "upstream stream error: " + errType
			}
			if errType == "usage_limit_reached" {
				// A ChatGPT plan limit reported inside a stream: rest the
				// account so the next turn goes elsewhere.
				until := s.now().Add(s.cfg.RateLimitCooldown)
				e.state.Cool(pool.FamilyAll, until, pool.ReasonQuota)
				s.log.LogAttrs(ctx, slog.LevelWarn, "account skipped", slog.String("account", e.acct.ID),
					slog.String("reason", "plan usage limit reached mid-stream"), slog.Time("cooldown_until", until))
			}
		}
	} else {
		var kept *bytes.Buffer
		var dst io.Writer = cw
		if rec.Stream {
			// A stream that is not SSE (Gemini's JSON array without
			// alt=sse): pass each read on at once.
			dst = flushWriter{cw}
		}
		if rt.usage && resp.StatusCode < 300 {
			kept = getBuf()
			defer putBuf(kept)
			dst = io.MultiWriter(dst, &capWriter{b: kept, max: 4 << 20})
		}
		// A whole answer needs no flush: net/http sends the rest when the
		// handler returns.
		buf := copyBufs.Get().(*[]byte)
		_, copyErr = io.CopyBuffer(dst, src, *buf)
		copyBufs.Put(buf)
		if kept != nil {
			if model, u, ok := adapterFor(e.acct.Kind).jsonUsage(kept.Bytes()); ok {
				rec.Usage = u
				if model != "" {
					rec.Model = model
				}
			}
		}
	}
	if copyErr != nil {
		switch {
		case cw.err != nil || ctx.Err() != nil:
			rec.Error = "client closed the connection"
		default:
			// The upstream broke mid-answer: make the client see a broken
			// stream, not a clean end, after recording what we have.
			reason := s.brokeOff(rec, copyErr)
			s.log.LogAttrs(ctx, slog.LevelWarn, "stream aborted",
				slog.String("account", e.acct.ID), slog.String("reason", rec.Error))
			if !encoded && isEventStream(resp.Header) {
				streamBroke(cw, rt.dialect, reason)
			}
			panic(http.ErrAbortHandler) // proxy's deferred record still runs
		}
	}
	return true, verdict{}
}

// verdict is a failover verdict plus the upstream status that caused it.
type verdict struct {
	failover.Verdict
	status int
}

// upstreamRequest builds the request to the account's upstream: the client's
// headers and body unchanged, except its credential, hop-by-hop headers and
// the account's auth.
func (s *Server) upstreamRequest(ctx context.Context, r *http.Request, rt route, e *entry, cred Credential, body []byte) (*http.Request, error) {
	ad := adapterFor(e.acct.Kind)
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
	target := ad.base(e.acct) + upPath
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
	ad.auth(h, e.acct, cred)
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
}

func (ir *idleReader) Read(p []byte) (int, error) {
	ir.t.Reset(ir.d)
	n, err := ir.r.Read(p)
	ir.t.Stop()
	if err != nil && err != io.EOF && errors.Is(context.Cause(ir.ctx), errIdle) {
		err = fmt.Errorf("%w: %w", errIdle, err)
	}
	return n, err
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

// streamBroke tells a client whose event stream broke off, in its own
// protocol, that the answer failed; then the stream is aborted, so a client
// that ignores the event still sees it broken, never a clean end. Nothing
// is added if an event was cut in half, or the client is gone.
func streamBroke(cw *clientWriter, d *dialect, reason string) {
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

// capWriter keeps at most max bytes; the rest is dropped silently.
type capWriter struct {
	b   *bytes.Buffer
	max int
}

func (c *capWriter) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
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

// jsonErr describes a JSON syntax error without echoing the body.
func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s has the wrong type (%s)", te.Field, te.Value)
	}
	return err.Error()
}

func statusClass(code int) string {
	return string(rune('0'+code/100)) + "xx"
}
