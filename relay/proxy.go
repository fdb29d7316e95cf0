package relay

import (
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

	"keypool/relay/pool"
	"keypool/relay/sched"
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
	"Openai-Organization", "Openai-Project",
	// Codex logged in with ChatGPT names its own ChatGPT account; a ChatGPT
	// account of Keypool's names its own (provider.Auth sets it)
	"Chatgpt-Account-Id"}
var dropResponse = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// request is a client's request on its way through the relay, tried on one
// account at a time (each try is an attempt, see call.go): what the client
// asked, the account under way and its credential, and the record of how it
// went. Every step of the request path takes it.
type request struct {
	ctx  context.Context
	w    http.ResponseWriter
	r    *http.Request
	rt   route // the route, its upstream path set to the model sent upstream
	body []byte
	req  reqInfo
	fam  pool.Family // the model's family, for cooldowns
	rec  UsageRecord
	// e is the account under way, or the one whose answer the client got;
	// nil once an account is left (it is counted as it is left). cred is
	// its credential.
	e    *entry
	cred Credential
	// prof is the profile whose key the client presented (nil: the whole
	// pool serves it).
	prof *profile
}

// proxy serves one API request: read the body once, then try accounts until
// one answers with something the client should see.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, rt route, client string) {
	a := request{ctx: r.Context(), w: w, r: r, rt: rt, prof: s.profileOf(client),
		rec: UsageRecord{Time: s.now(), Route: rt.name, ClientID: client}}
	if a.prof != nil {
		a.rec.Profile = a.prof.name
	}
	defer s.finish(&a)
	if !s.readBody(&a) || !s.withinBudget(&a) || !s.readModel(&a) {
		return
	}
	if a.prof == nil && rt.dialect.proto == pool.ProtocolResponses {
		if a.prof = s.folderProfile(a.body); a.prof != nil {
			a.rec.Profile = a.prof.name
		}
	}
	s.tryAccounts(&a)
}

// finish records how a request went, whether it ended or the handler
// was aborted mid-answer: the account's count, the price, the metrics, the
// usage record.
func (s *Server) finish(a *request) {
	rec := &a.rec
	rec.Duration = s.now().Sub(rec.Time)
	if a.e != nil && rec.Account == a.e.acct.ID {
		a.e.stats.count(rec.Outcome())
	}
	if s.cfg.Cost != nil && rec.Model != "" && rec.Account != "" {
		rec.CostUSD, _ = s.cfg.Cost(rec.Model, rec.Usage, rec.Time)
		if rec.CostUSD > 0 {
			s.spend(rec)
			s.countPaid(a)
		}
	}
	s.metrics.observe(rec)
	s.cfg.Usage.Record(*rec)
}

// readBody reads a POST's body whole, within the relay's limit. It reports
// false when the request ends here.
func (s *Server) readBody(a *request) bool {
	if a.r.Method != http.MethodPost {
		return true
	}
	var err error
	a.body, err = io.ReadAll(http.MaxBytesReader(a.w, a.r.Body, s.cfg.MaxBodyBytes))
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.fail(a, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than the relay's limit of %d bytes (server.max_body_bytes)", s.cfg.MaxBodyBytes), 0)
		return false
	}
	a.rec.Status, a.rec.Error = 499, "client closed while sending the body"
	return false
}

// withinBudget refuses a client whose daily budget is spent, until
// midnight. It reports false when the request ends here.
func (s *Server) withinBudget(a *request) bool {
	client, start := a.rec.ClientID, a.rec.Time
	limit := s.cfg.ClientDailyBudgetUSD[client]
	if limit <= 0 {
		return true
	}
	day, _ := s.clientState(client).Spent(start)
	if day < limit {
		return true
	}
	left := nextMidnight(start).Sub(start)
	s.fail(a, http.StatusTooManyRequests,
		fmt.Sprintf("this client key's daily budget of $%.2f is spent ($%.2f today); it resets at midnight", limit, day), left)
	return false
}

// readModel reads the model, stream flag and session from a body that
// names a model, maps the model to the one sent upstream and applies the
// client's model rules. It reports false when the request ends here.
func (s *Server) readModel(a *request) bool {
	if !a.rt.model {
		return true
	}
	// encoding/json would quietly turn bad bytes into U+FFFD while the
	// relay forwards the original body; refuse it here instead.
	if !utf8.Valid(a.body) {
		s.fail(a, http.StatusBadRequest, "request body is not valid UTF-8", 0)
		return false
	}
	var err error
	if a.req, err = a.rt.dialect.parse(a.r.Header, a.body); err != nil {
		s.fail(a, http.StatusBadRequest, "request body is not valid JSON: "+jsonErr(err), 0)
		return false
	}
	if a.rt.pathModel != "" {
		a.req.Model, a.req.Stream = a.rt.pathModel, a.rt.pathStream
	}
	if upModel, ok := s.cfg.ModelMap[a.req.Model]; ok && upModel != "" && upModel != a.req.Model {
		if a.rt.pathModel != "" {
			a.rt.upstream = strings.Replace(a.rt.upstream, "/models/"+a.req.Model+":", "/models/"+upModel+":", 1)
			a.rt.call.Model = upModel
		} else if a.body, err = withModel(a.body, upModel); err != nil {
			s.fail(a, http.StatusBadRequest, "request body is not a JSON object", 0)
			return false
		}
		a.req.Model = upModel
	}
	client := a.rec.ClientID
	if s.modelRules(client) && ambiguousModel(a.body) {
		// encoding/json matches keys regardless of case; upstreams do
		// not. A second "MODEL" key could slip past the rules.
		s.fail(a, http.StatusBadRequest, `the body has more than one "model" key (in different cases)`, 0)
		return false
	}
	if pats := s.cfg.ClientModels[client]; len(pats) > 0 && !matchAny(pats, a.req.Model) {
		a.rec.Model = a.req.Model
		s.fail(a, http.StatusForbidden, fmt.Sprintf("model %q is not allowed for this client key", a.req.Model), 0)
		return false
	}
	if a.req.Model == "" {
		s.fail(a, http.StatusBadRequest, errNoModel.Error(), 0)
		return false
	}
	a.rec.Model, a.rec.Stream = a.req.Model, a.req.Stream
	return true
}

// failoverBudget is how long after a request arrived the relay may still
// start an attempt on another account: room for one attempt that waits out
// the whole header timeout and one more after it. An attempt under way is
// never cut short by it; it has its own timeouts.
func (s *Server) failoverBudget() time.Duration { return 2 * s.cfg.HeaderTimeout }

// tryAccounts tries accounts, best first, until one answers with something
// the client should see. It stops when the client leaves, when no account
// is left to try, and after at most 2n+1 picks among n accounts or once the
// failover budget is spent, whichever comes first.
func (s *Server) tryAccounts(a *request) {
	ctx := a.ctx
	a.fam = pool.FamilyOf(a.req.Model)
	var sess string
	if a.rt.sticky {
		sess = a.req.Session
	}
	set := s.accounts.Load()
	cands := set.cands[a.rt.dialect.proto]
	served := set.served[a.rt.dialect.proto]
	if a.prof != nil {
		// Only the profile's accounts serve its clients.
		v := a.prof.within(set)
		cands, served = v.cands[a.rt.dialect.proto], v.served[a.rt.dialect.proto]
	}
	// Past the day's cap on paid answers, only plans serve.
	capped := s.paid.capped(a.rec.Time)
	var triedBuf [16]bool
	tried := triedBuf[:0]
	if len(cands) > len(triedBuf) {
		tried = make([]bool, len(cands))
	} else {
		tried = triedBuf[:len(cands)]
	}
	skip := func(i int) bool {
		acct := cands[i].Account
		return tried[i] || !acct.Allows(a.req.Model) || !a.rt.accepts(acct.Kind) || capped && isPaid(served[i], a.rec.Time) ||
			// Claude answers converted chat for Claude models only, unless
			// the account's model rules say otherwise: "gpt-4o" must reach
			// an OpenAI-compatible account, not Anthropic.
			(a.req.Model != "" && converted(a.rt, acct) && len(acct.Models) == 0 && !strings.HasPrefix(a.req.Model, "claude"))
	}

	s.waitForBound(ctx, cands, sess, a.fam)
	deadline := a.rec.Time.Add(s.failoverBudget())
	waited := false
	for range 2*len(cands) + 1 {
		now := s.now()
		if !now.Before(deadline) {
			s.outOfTime(a)
			return
		}
		i, _ := s.picker.Pick(now, cands, a.fam, sess, skip)
		if i < 0 {
			if capped && s.capRefusal(a, served, cands, now) {
				return
			}
			first := sched.Earliest(now, cands, a.fam, a.req.Model)
			if wait := first.Sub(now); !waited && !first.IsZero() && wait > 0 && wait <= s.cfg.MaxThrottleWait {
				// Every account is briefly throttled: waiting a moment beats
				// handing the client a 429 it would wait out anyway.
				waited = true
				if !sleepCtx(ctx, wait) {
					a.rec.EndOnLastTried()
					a.rec.Status, a.rec.Error = 499, "client left while waiting for an account"
					return
				}
				clear(tried)
				continue
			}
			s.noAccount(a, served, first, now)
			return
		}
		tried[i] = true
		a.e = served[i]
		done, v := s.try(a)
		if done {
			if a.rec.Status >= 200 && a.rec.Status < 400 {
				s.picker.BindIn(s.now(), sess, a.e.acct.ID, a.rec.Profile)
			}
			return
		}
		if ctx.Err() != nil {
			// The client left while the account was failing: no cooldown
			// on the strength of an answer nobody waited for.
			a.rec.Account, a.rec.Status, a.rec.Error = a.e.acct.ID, 499, "client closed the connection"
			return
		}
		s.leave(a, v)
		a.e = nil
	}
	s.noAccount(a, served, sched.Earliest(s.now(), cands, a.fam, a.req.Model), s.now())
}

// spend counts a priced request against its account's and client's
// budgets, resting the account when a cap is reached.
func (s *Server) spend(rec *UsageRecord) {
	for _, e := range s.accounts.Load().all {
		if e.acct.ID == rec.Account {
			e.state.AddSpend(rec.Time, rec.CostUSD)
			e.runway.Spent(pool.FamilyOf(rec.Model), rec.CostUSD)
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
func (s *Server) leave(a *request, v verdict) {
	e := a.e
	f := pool.FamilyAll
	if v.Family != pool.FamilyAll {
		f = a.fam
	}
	e.state.Cool(f, v.Until, v.Reason)
	kind := verdictKind(v)
	e.stats.count(kind)
	e.stats.last.Store(&Failure{Time: s.now(), Kind: kind, Message: cause(e.acct.ID, kind, v.Why)})
	a.rec.Failover = append(a.rec.Failover, FailoverStep{Account: e.acct.ID, Status: v.status, Reason: v.Why, Kind: kind})
	s.metrics.failovers.WithLabelValues(e.acct.ID, string(v.Reason)).Inc()
	family := string(f)
	if f == pool.FamilyAll {
		family = "all"
	}
	s.log.LogAttrs(a.ctx, slog.LevelWarn, "account skipped",
		slog.String("account", e.acct.ID), slog.String("reason", v.Why),
		slog.String("family", family), slog.Time("cooldown_until", v.Until))
}

// noAccount answers when no account can serve, with the time one returns.
// When this request tried accounts, the answer says what each did, the
// last one's failure being the record's own; otherwise it says why the
// accounts rest.
func (s *Server) noAccount(a *request, served []*entry, first, now time.Time) {
	var msg strings.Builder
	kind := a.tried(&msg)
	if first.IsZero() {
		if msg.Len() > 0 {
			msg.WriteString("; ")
		}
		if a.prof != nil {
			msg.WriteString("no enabled account of profile " + a.prof.name + " can serve this request: add one to it (keypool profiles) or enable one")
		} else {
			msg.WriteString("no enabled account can serve this request: add one (keypool import FILE, or serve --config FILE) or enable one")
		}
		s.fail(a, http.StatusServiceUnavailable, msg.String(), 0)
		return
	}
	wait := max(first.Sub(now), time.Second)
	back := fmt.Sprintf("the first is back at %s (in %s)", first.UTC().Format(time.RFC3339), wait.Round(time.Second))
	if msg.Len() > 0 {
		msg.WriteString("; every account is resting: " + back)
	} else {
		// Nothing tried: every account was already resting. Say after what.
		msg.WriteString("all accounts are cooling down; " + back)
		if f := latestFailure(served, a.fam, now); f != nil {
			kind = f.Kind
			msg.WriteString("; last error " + ago(now, f.Time) + ": " + f.Message)
		}
	}
	if status := allOutStatus(kind); status != http.StatusTooManyRequests || a.rt.dialect.writeSpent == nil || !plansSpent(served, a.fam, now) {
		s.fail(a, status, msg.String(), wait)
		return
	}
	// Every account rests on a limit: say so as a spent plan does, so
	// the client shows its own usage-limit message with the time.
	s.noteFailure(a, http.StatusTooManyRequests, msg.String())
	a.rt.dialect.writeSpent(a.w, msg.String(), now.Add(wait), wait)
}

// plansSpent reports whether every account that rests now (for family
// fam) rests on a limit that ends by itself, and the first of them back
// rests on a plan or a budget: a spent plan window, paid extra usage it may
// not use, a spent budget. Only then is "no account" a spent plan; a
// refused key is not, and a throttle the client waits out and retries on
// its own.
func plansSpent(served []*entry, fam pool.Family, now time.Time) bool {
	var first pool.Cooldown
	for _, e := range served {
		cd, cooling := e.state.CoolingFor(now, fam)
		if !cooling {
			continue
		}
		switch cd.Reason {
		case pool.ReasonQuota, pool.ReasonOverage, pool.ReasonBudget, pool.ReasonRateLimited:
		default:
			return false
		}
		if first.Until.IsZero() || cd.Until.Before(first.Until) {
			first = cd
		}
	}
	return first.Reason != "" && first.Reason != pool.ReasonRateLimited
}

// outOfTime answers a request whose failover budget is spent: what each
// account tried did, and that no other is tried.
func (s *Server) outOfTime(a *request) {
	var msg strings.Builder
	kind := a.tried(&msg)
	if msg.Len() > 0 {
		msg.WriteString("; ")
	}
	msg.WriteString("no account answered within " + s.failoverBudget().String() + ", and no other is tried")
	s.fail(a, allOutStatus(kind), msg.String(), 0)
}

// tried writes to msg what each account this request left did, and makes
// the last one the record's account. It returns how that one failed ("" if
// none was tried).
func (a *request) tried(msg *strings.Builder) ErrorKind {
	if len(a.rec.Failover) == 0 {
		return ""
	}
	for i, st := range a.rec.Failover {
		if i > 0 {
			msg.WriteString("; ")
		}
		msg.WriteString(cause(st.Account, st.Kind, st.Reason))
	}
	return a.rec.EndOnLastTried()
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
func (s *Server) fail(a *request, status int, msg string, retry time.Duration) {
	s.noteFailure(a, status, msg)
	a.rt.dialect.writeError(a.w, status, msg, retry)
}

// noteFailure records an answer the relay makes up for the client.
func (s *Server) noteFailure(a *request, status int, msg string) {
	a.rec.Status, a.rec.Error = status, msg
	a.rec.TTFB = s.now().Sub(a.rec.Time)
}

// sleepCtx waits d, or until ctx is done; it reports whether it waited d.
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
