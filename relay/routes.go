package relay

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"keypool/relay/anthropic"
	"keypool/relay/gemini"
	"keypool/relay/guard"
	"keypool/relay/pool"
	"keypool/relay/provider"
)

// route is one API path the relay serves.
type route struct {
	name     string // for records and metrics
	method   string
	upstream string   // path sent upstream, after the account's base URL
	dialect  *dialect // the client's protocol; accounts that serve it are candidates
	model    bool     // the body is JSON with a required "model"
	sticky   bool     // keep the session on its account
	usage    bool     // answers carry token usage

	pathModel  string // the model named in the path (Gemini), overriding the body's
	pathStream bool   // the path asks for a stream (Gemini)

	convertedUpstream string // the Anthropic path when a Claude account answers OpenAI chat

	call    gemini.Call  // the Gemini model call, for Code Assist's envelope
	onlyAPI provider.API // if set, only account kinds speaking this API serve the route
}

// accepts reports whether accounts of kind k may serve rt.
func (rt route) accepts(k pool.Kind) bool {
	return rt.onlyAPI == "" || providerOf(k).API == rt.onlyAPI
}

// routes maps request paths to routes. Aliases of the seed relay share a route.
func (s *Server) routes() map[string]route {
	messages := route{name: "messages", method: http.MethodPost, upstream: "/v1/messages",
		dialect: anthropicDialect, model: true, sticky: true, usage: true}
	count := route{name: "count_tokens", method: http.MethodPost, upstream: "/v1/messages/count_tokens",
		dialect: anthropicDialect, model: true, sticky: true}
	models := route{name: "models", method: http.MethodGet, upstream: "/v1/models", dialect: anthropicDialect}
	m := make(map[string]route)
	for _, prefix := range []string{"", "/api", "/claude"} {
		m[prefix+"/v1/messages"] = messages
		m[prefix+"/v1/messages/count_tokens"] = count
		m[prefix+"/v1/models"] = models
	}
	m["/openai/v1/responses"] = route{name: "responses", method: http.MethodPost, upstream: "/responses",
		dialect: responsesDialect, model: true, sticky: true, usage: true}
	m["/openai/v1/chat/completions"] = route{name: "chat_completions", method: http.MethodPost, upstream: "/chat/completions",
		convertedUpstream: "/v1/messages", dialect: chatDialect, model: true, sticky: true, usage: true}
	m["/openai/v1/models"] = route{name: "chat_models", method: http.MethodGet, upstream: "/models",
		convertedUpstream: "/v1/models", dialect: chatDialect}
	for _, v := range []string{"v1beta", "v1"} {
		m["/gemini/"+v+"/models"] = route{name: "gemini_models", method: http.MethodGet, upstream: "/" + v + "/models", dialect: geminiDialect,
			onlyAPI: provider.APIGemini} // Code Assist has no model list
	}
	m["/openai/v1/responses/compact"] = route{name: "responses_compact", method: http.MethodPost, upstream: "/responses/compact",
		dialect: responsesDialect, model: true, sticky: true, usage: true}
	return m
}

// geminiCall routes /gemini/{version}/models/{model}:{method}. The model
// segment is checked before it goes anywhere (no path tricks upstream).
func geminiCall(path string) (route, bool) {
	call, err := gemini.ParsePath("/gemini", path)
	if err != nil {
		return route{}, false
	}
	rt := route{name: "gemini_" + call.Method, method: http.MethodPost, dialect: geminiDialect,
		upstream: "/" + call.Version + "/models/" + call.Model + ":" + call.Method,
		model:    true, sticky: call.Method != "countTokens", usage: call.Method != "countTokens",
		pathModel: call.Model, pathStream: call.Method == "streamGenerateContent", call: call}
	return rt, true
}

// ServeHTTP routes a request after the access checks.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := s.guard.Load()
	if err := g.CheckHost(r); err != nil {
		s.deny(w, r, http.StatusForbidden, err)
		return
	}
	if err := guard.CheckOrigin(r); err != nil {
		s.deny(w, r, http.StatusForbidden, err)
		return
	}
	if r.URL.Path == "/health" || r.URL.Path == "/metrics" {
		// They name accounts, states and usage: beyond this machine, only
		// for a key.
		if err := g.CheckMonitor(r); err != nil {
			s.deny(w, r, http.StatusUnauthorized, err)
			return
		}
	}
	switch r.URL.Path {
	case "/health":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			anthropic.WriteError(w, http.StatusMethodNotAllowed, "use GET /health", 0)
			return
		}
		s.serveHealth(w)
		return
	case "/metrics":
		promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		return
	}
	rt, ok := s.mux[r.URL.Path]
	if !ok && strings.HasPrefix(r.URL.Path, "/gemini/") {
		rt, ok = geminiCall(r.URL.Path)
	}
	if !ok {
		if r.Method == http.MethodHead {
			// Claude Code probes its base URL with HEAD; any answer will do.
			w.WriteHeader(http.StatusNotFound)
			return
		}
		dialectFor(r.URL.Path).writeError(w, http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path, 0)
		return
	}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		// Codex's built-in provider tries Responses over WebSocket first;
		// 426 makes codex-cli 0.171.0 fall back to HTTP at once (a 404
		// costs it seven tries, about 6 s).
		rt.dialect.writeError(w, http.StatusUpgradeRequired, "WebSocket transport is not supported; use HTTP", 0)
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		rt.dialect.writeError(w, http.StatusMethodNotAllowed, r.URL.Path+" takes "+rt.method, 0)
		return
	}
	if s.paused.Load() {
		const why = "Keypool is paused: resume it from the tray"
		s.refused(rt.name, http.StatusServiceUnavailable, why)
		rt.dialect.writeError(w, http.StatusServiceUnavailable, why, 0)
		return
	}
	if why := s.blocked.Load(); why != nil {
		s.refused(rt.name, http.StatusServiceUnavailable, *why)
		rt.dialect.writeError(w, http.StatusServiceUnavailable, *why, 5*time.Second)
		return
	}
	client, err := g.ClientID(r)
	if err != nil {
		s.refused(rt.name, http.StatusUnauthorized, err.Error())
		s.deny(w, r, http.StatusUnauthorized, err)
		return
	}
	s.proxy(w, r, rt, client)
}

// deny refuses a request and logs why, without any header value. The log
// line comes at most once a second, so a flood of refusals cannot fill the
// journal; the refused counter in /metrics counts every one.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, status int, err error) {
	now, last := s.now().UnixNano(), s.metrics.refusalLogged.Load()
	if now-last >= int64(time.Second) && s.metrics.refusalLogged.CompareAndSwap(last, now) {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused",
			slog.String("path", r.URL.Path), slog.String("reason", err.Error()))
	}
	s.metrics.refused.WithLabelValues(reasonLabel(err)).Inc()
	dialectFor(r.URL.Path).writeError(w, status, err.Error(), 0)
}

// refused records a request refused before it reached any account (a bad
// or missing client key, a paused or blocked relay), so the activity list
// shows it. At most one a second is recorded: a flood of bad keys must not
// fill the disk (the refused counter in /metrics counts every refused key).
func (s *Server) refused(route string, status int, why string) {
	if s.cfg.Usage == nil {
		return
	}
	now := s.now()
	last := s.lastRefusal.Load()
	if now.UnixNano()-last < int64(time.Second) || !s.lastRefusal.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	s.cfg.Usage.Record(UsageRecord{Time: now, Route: route, Status: status, Error: why})
}

func reasonLabel(err error) string {
	switch {
	case errors.Is(err, guard.ErrHost):
		return "host"
	case errors.Is(err, guard.ErrOrigin):
		return "origin"
	case errors.Is(err, guard.ErrNoKey):
		return "no_key"
	}
	return "bad_key"
}

// Health is what /health reports: each account and its state. No secrets.
type Health struct {
	Status string    `json:"status"` // ok, degraded (some accounts out), unavailable (none can serve, or blocked)
	Time   time.Time `json:"time"`
	// Version is the build's version, as the app gave it (Config.Version),
	// and Update a newer release, when the app's update check found one.
	Version  string          `json:"version,omitempty"`
	Update   *NewerVersion   `json:"update,omitempty"`
	Accounts []AccountHealth `json:"accounts"`
	// Store is set when usage records are not reaching the disk; the relay
	// serves on regardless.
	Store *StoreHealth `json:"store,omitempty"`
	// Blocked says why API requests are refused for now (see SetBlocked).
	Blocked string `json:"blocked,omitempty"`
	// Hint says what to do when nothing can serve for a reason the user
	// fixes (no accounts yet).
	Hint string `json:"hint,omitempty"`
	// Runway is, for each protocol some account serves, when new work
	// could no longer be served at the recent pace.
	Runway []PoolRunway `json:"runway,omitempty"`
	// Next is, for each protocol some account can serve now, the account
	// (id) a new conversation goes to.
	Next map[pool.Protocol]string `json:"next,omitempty"`
	// Paying lists the protocols whose plans are spent while a paid
	// account serves them, with what that has cost.
	Paying []PaidEpisode `json:"paying,omitempty"`
	// PaidCap is the pool-wide daily cap on paid answers, when one is set.
	PaidCap *PaidCap `json:"paid_cap,omitempty"`
}

// NewerVersion is a newer release of Keypool than the one running.
type NewerVersion struct {
	Version string `json:"version"`
	Notes   string `json:"notes,omitempty"` // the release notes' address
}

// AccountHealth is one account in /health.
type AccountHealth struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Type      pool.Kind         `json:"type"`
	Priority  int               `json:"priority"`
	Enabled   bool              `json:"enabled"`
	State     pool.AccountState `json:"state"` // decided by pool.AccountStateOf
	Cooldowns []CooldownInfo    `json:"cooldowns,omitempty"`
	InFlight  int64             `json:"in_flight"`
	// Attempts counts the requests sent to the account since the relay
	// started, and how many failed, by kind.
	Attempts Counts `json:"attempts"`
	// LastError is the account's latest failed attempt, if any.
	LastError *Failure     `json:"last_error,omitempty"`
	Today     *DayStats    `json:"today,omitempty"`
	Quota     []pool.Quota `json:"quota,omitempty"` // plan windows, as the provider last reported them
	// Budget is the account's caps and what they have spent, when it has
	// a cap.
	Budget *BudgetHealth `json:"budget,omitempty"`
	// Runway is when the account hits its first wall at the recent pace.
	Runway *AccountRunway `json:"runway,omitempty"`
	// Overage is the subscription's extra usage while its plan is spent
	// and answers would be billed (or while extra usage is closed).
	Overage *pool.Overage `json:"overage,omitempty"`
	// AllowOverage: the user lets it serve on paid extra usage.
	AllowOverage bool `json:"allow_overage,omitempty"`
	// LoginEnds is when the account's login stops working, if known.
	LoginEnds time.Time `json:"login_ends,omitzero"`
}

// BudgetHealth is an account's USD caps (0: none) and what was spent
// against them.
type BudgetHealth struct {
	DailyUSD      float64 `json:"daily_usd,omitempty"`
	MonthlyUSD    float64 `json:"monthly_usd,omitempty"`
	SpentTodayUSD float64 `json:"spent_today_usd"`
	SpentMonthUSD float64 `json:"spent_month_usd"`
}

// CooldownInfo is one running cooldown.
type CooldownInfo struct {
	Family string    `json:"family"` // "all" or a model family
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
}

// Health returns the relay's state now.
func (s *Server) Health() Health {
	now := s.now()
	set := s.accounts.Load()
	var today map[string]DayStats
	if s.cfg.Today != nil {
		today = s.cfg.Today()
	}
	h := Health{Time: now, Version: s.cfg.Version, Accounts: make([]AccountHealth, 0, len(set.all))}
	if s.cfg.Update != nil {
		h.Update = s.cfg.Update()
	}
	ready := 0
	for _, e := range set.all {
		a := AccountHealth{ID: e.acct.ID, Name: e.acct.Name, Type: e.acct.Kind,
			Priority: e.acct.Priority, Enabled: e.acct.Enabled, InFlight: e.state.InFlight(), Quota: e.state.Quota(),
			Attempts: e.stats.counts(), LastError: e.stats.last.Load(), Runway: e.accountRunway(now)}
		if e.acct.DailyBudgetUSD > 0 || e.acct.MonthlyBudgetUSD > 0 {
			day, month := e.state.Spent(now)
			a.Budget = &BudgetHealth{DailyUSD: e.acct.DailyBudgetUSD, MonthlyUSD: e.acct.MonthlyBudgetUSD, SpentTodayUSD: day, SpentMonthUSD: month}
		}
		a.State, a.Cooldowns = e.health(now)
		if a.State.Serves(e.acct.AllowOverage) {
			ready++
		}
		if o := e.state.Overage(); o.Paid(now) || o != nil && o.Status == "rejected" {
			a.Overage = o
		}
		a.AllowOverage, a.LoginEnds = e.acct.AllowOverage, e.acct.LoginEnds
		if d, ok := today[e.acct.ID]; ok {
			a.Today = &d
		}
		h.Accounts = append(h.Accounts, a)
	}
	h.Runway = poolRunways(now, set)
	h.Paying, h.PaidCap = s.paidHealth(now, set)
	for p, cands := range set.cands {
		if i := s.picker.Next(now, cands, pool.FamilyAll); i >= 0 {
			if h.Next == nil {
				h.Next = make(map[pool.Protocol]string, len(set.cands))
			}
			h.Next[p] = cands[i].Account.ID
		}
	}
	h.Blocked = s.Blocked()
	if len(set.all) == 0 {
		h.Hint = s.cfg.NoAccountsHint
	}
	if r, ok := s.cfg.Usage.(StoreHealthReporter); ok {
		if sh := r.StoreHealth(); !sh.OK() {
			h.Store = &sh
		}
	}
	switch {
	case ready == 0 || h.Blocked != "":
		h.Status = "unavailable"
	case ready < set.servable:
		h.Status = "degraded"
	default:
		h.Status = "ok"
	}
	return h
}

// health is the account's state at now, as /health names it, and its
// running cooldowns.
func (e *entry) health(now time.Time) (state pool.AccountState, cooldowns []CooldownInfo) {
	var rest *pool.Cooldown
	for f, c := range e.state.Cooldowns(now) {
		fam := string(f)
		if f == pool.FamilyAll {
			fam = "all"
			rest = &c
		}
		cooldowns = append(cooldowns, CooldownInfo{Family: fam, Reason: string(c.Reason), Until: c.Until})
	}
	return pool.AccountStateOf(e.acct, provider.Known(e.acct.Kind), rest, e.state.PaidOverage(now)), cooldowns
}

func (s *Server) serveHealth(w http.ResponseWriter) {
	b, err := json.MarshalIndent(s.Health(), "", "  ")
	if err != nil {
		anthropic.WriteError(w, http.StatusInternalServerError, "health: "+err.Error(), 0)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
