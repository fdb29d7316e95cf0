// Package relay is Keypool's HTTP relay: it takes a client's request on a
// loopback address, picks an account, adds that account's credentials,
// streams the upstream's answer back unchanged, and moves to the next account
// when one is rate-limited, out of quota or broken. It knows nothing of
// bbolt, the keychain or the GUI: accounts, credentials, session bindings and
// the usage sink come in through small interfaces in Config.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"keypool/relay/failover"
	"keypool/relay/guard"
	"keypool/relay/pool"
	"keypool/relay/provider"
	"keypool/relay/runway"
	"keypool/relay/sched"
	"keypool/relay/upstream"
)

// Credential is what an account needs to call its upstream. Its String,
// GoString and LogValue never show the values.
type Credential struct {
	APIKey        string
	ProxyPassword string
}

func (Credential) String() string               { return "relay.Credential{REDACTED}" }
func (Credential) GoString() string             { return "relay.Credential{REDACTED}" }
func (Credential) LogValue() slog.Value         { return slog.StringValue("REDACTED") }
func (c Credential) Format(f fmt.State, _ rune) { f.Write([]byte(c.String())) }

// Credentials hands out an account's credential when a request needs it.
type Credentials interface {
	Credential(ctx context.Context, accountID string) (Credential, error)
}

// Refresher is implemented by Credentials that hold OAuth tokens: after the
// upstream refused stale (a 401), it returns a refreshed credential, so the
// relay can retry once on the same account.
type Refresher interface {
	Refresh(ctx context.Context, accountID string, stale Credential) (Credential, error)
}

// DayStats is one account's traffic today, for /health: every attempt on
// it, failed ones included.
type DayStats struct {
	Counts
	CostUSD float64 `json:"cost_usd"`
	Usage
}

// Config configures a Server. Zero durations take the defaults shown.
type Config struct {
	Accounts    []pool.Account
	Credentials Credentials                // required
	Bindings    sched.Bindings             // nil: in memory only
	Usage       UsageSink                  // nil: records are dropped
	Today       func() map[string]DayStats // optional: per-account traffic shown in /health
	Version     string                     // the build's version, shown in /health
	Update      func() *NewerVersion       // optional: a newer release the app found, shown in /health

	ClientKeys []string // none: open, every client is "anonymous"
	// Profiles are named subsets of the accounts, each served to the
	// clients that present its key (see SetProfiles).
	Profiles []Profile
	// ClientModels limits a client (by key id, guard.KeyID) to models
	// matching its patterns ("*" wildcards); a client not listed may use any.
	ClientModels map[string][]string
	// ModelMap maps a model name clients use to the one sent upstream.
	ModelMap map[string]string
	// Strategy shares work among accounts of equal priority: priority
	// (least in flight, the default), fill-first or spread.
	Strategy      sched.Strategy
	FillThreshold float64 // fill-first's full mark, 0..1: 0.95
	// AvoidRunout: a new conversation skips an account forecast to run out
	// within this long when another can serve it (0: never; see
	// SetAvoidRunout).
	AvoidRunout time.Duration
	// PaidDailyUSD caps what paid answers (API keys, paid extra usage) may
	// cost in a day, pool-wide (0: no cap; see SetPaidDailyCap).
	PaidDailyUSD float64
	// Cost prices a finished request (USD); nil: no costs.
	Cost func(model string, u Usage, at time.Time) (float64, bool)
	// ClientDailyBudgetUSD caps what a client (by key id) spends a day;
	// past it the client is refused until midnight.
	ClientDailyBudgetUSD map[string]float64
	ListenHost           string // the host the relay listens on; non-loopback accepts any Host header
	// Public is how other machines reach the relay: the names its Host
	// check accepts, and the token that opens /health and /metrics there.
	Public guard.Public

	StickyTTL           time.Duration // 1h
	RenewalThreshold    time.Duration // 5m
	UnavailableCooldown time.Duration // 1h: 401, 402, 403
	RateLimitCooldown   time.Duration // 60s: 429 with no time given
	OverloadCooldown    time.Duration // 10s: 529, 5xx, connect errors
	IdleTimeout         time.Duration // 5m: no byte from upstream (or to client) for this long ends the request
	HeaderTimeout       time.Duration // 10m (at least IdleTimeout): wait for a non-streaming answer's headers, sent only when it is complete
	MaxThrottleWait     time.Duration // 2s: wait this long for a throttled account rather than fail; negative: never
	MaxBodyBytes        int64         // 32 MiB

	Logger   *slog.Logger         // nil: slog.Default()
	Now      func() time.Time     // nil: time.Now
	Registry *prometheus.Registry // nil: a new one, served at /metrics

	// NoAccountsHint is what /health says while there are no accounts: how
	// to add one.
	NoAccountsHint string
}

// Server is the relay. It is an http.Handler; use it with any http.Server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	guard    atomic.Pointer[guard.Guard]
	picker   *sched.Picker
	policy   failover.Policy
	accounts atomic.Pointer[accountSet]
	metrics  *metrics
	mux      map[string]route
	paused   atomic.Bool
	blocked  atomic.Pointer[string] // why API requests are refused; nil: they are not
	// lastRefusal is when a refusal was last recorded (Unix nanoseconds):
	// refusals are recorded at most once a second (see refused).
	lastRefusal atomic.Int64

	clientMu    sync.Mutex
	clientSpend map[string]*pool.State // per client id: only the spend counters are used

	paid paying // paid answers: the day's cap, each protocol's episode

	// keysMu guards the keys the guard is built from.
	keysMu      sync.Mutex
	clientKeys  []string
	profileKeys []string
	// profiles are found by their key's id (nil: none), and by name.
	profiles       atomic.Pointer[map[string]*profile]
	profilesByName atomic.Pointer[map[string]*profile]
	// folders route Codex sessions to profiles by where they started.
	folders atomic.Pointer[[]FolderRoute]
}

// SetSpend starts an account's spend counters (at start, from the records
// of the day and month so far), resting it if a cap is already spent.
func (s *Server) SetSpend(account string, at time.Time, day, month float64) {
	for _, e := range s.accounts.Load().all {
		if e.acct.ID == account {
			e.state.SetSpend(at, day, month)
			s.checkBudget(e, at)
		}
	}
}

// SetQuota restores an account's last known plan readings (at start).
func (s *Server) SetQuota(account string, q []pool.Quota) {
	for _, e := range s.accounts.Load().all {
		if e.acct.ID == account {
			e.state.SetQuota(q)
		}
	}
}

// Has reports whether the relay knows an account with this id.
func (s *Server) Has(account string) bool {
	for _, e := range s.accounts.Load().all {
		if e.acct.ID == account {
			return true
		}
	}
	return false
}

// ClearCooldowns ends every cooldown of an account at once: the user says
// it may serve again (its next failure rests it again).
func (s *Server) ClearCooldowns(account string) {
	for _, e := range s.accounts.Load().all {
		if e.acct.ID == account {
			e.state.Clear()
			e.runway.Forget()
			// A spent plan stays spent: without leave to use paid extra
			// usage it rests until its reset all the same.
			restOnOverage(e, s.now())
		}
	}
}

// SetClientSpend starts a client's daily spend counter.
func (s *Server) SetClientSpend(client string, at time.Time, day float64) {
	s.clientState(client).SetSpend(at, day, 0)
}

// checkBudget rests an account whose daily or monthly cap is spent, until
// the period ends (local midnight, or the first of next month).
func (s *Server) checkBudget(e *entry, at time.Time) {
	day, month := e.state.Spent(at)
	e.runway.Observe(at, budgetWindows(e.acct, at, day, month))
	a := e.acct
	y, m, _ := at.Date()
	switch {
	case a.MonthlyBudgetUSD > 0 && month >= a.MonthlyBudgetUSD:
		until := time.Date(y, m+1, 1, 0, 0, 0, 0, at.Location())
		e.state.Cool(pool.FamilyAll, until, pool.ReasonBudget)
	case a.DailyBudgetUSD > 0 && day >= a.DailyBudgetUSD:
		until := nextMidnight(at)
		e.state.Cool(pool.FamilyAll, until, pool.ReasonBudget)
	}
}

// nextMidnight is when t's local day ends, where daily budgets and caps
// start again.
func nextMidnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}

func (s *Server) clientState(client string) *pool.State {
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	if s.clientSpend == nil {
		s.clientSpend = map[string]*pool.State{}
	}
	st := s.clientSpend[client]
	if st == nil {
		st = pool.NewState()
		s.clientSpend[client] = st
	}
	return st
}

// SetPaused pauses the relay (API requests get a 503 saying so) or
// resumes it. /health and /metrics keep answering.
func (s *Server) SetPaused(p bool) { s.paused.Store(p) }

// Paused reports whether the relay is paused.
func (s *Server) Paused() bool { return s.paused.Load() }

// SetBlocked refuses every API request with a 503 that gives reason, until
// it is called again with "". /health and /metrics keep answering. The app
// blocks the relay while it cannot read its keychain: it can then neither
// check client keys nor reach an account.
func (s *Server) SetBlocked(reason string) {
	if reason == "" {
		s.blocked.Store(nil)
		return
	}
	s.blocked.Store(&reason)
}

// Blocked returns why API requests are refused, or "".
func (s *Server) Blocked() string {
	if r := s.blocked.Load(); r != nil {
		return *r
	}
	return ""
}

// entry is an account with its live state and its transport.
type entry struct {
	acct   pool.Account
	up     *provider.Provider // acct's kind, looked up once per account set
	state  *pool.State
	runway *runway.Tracker // plan windows' and budgets' history
	stats  *accountStats

	mu        sync.Mutex
	transport *http.Transport
	proxyPass string // the password transport was built with
}

// accountSet is an immutable snapshot of the accounts, swapped whole by
// SetAccounts. For each protocol, cands holds the accounts that serve it,
// aligned with served.
type accountSet struct {
	all        []*entry
	servable   int  // accounts this build serves on some route
	modelRules bool // some account limits its models
	served     map[pool.Protocol][]*entry
	cands      map[pool.Protocol][]sched.Candidate
}

// New returns a relay for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("relay: Config.Credentials is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.StickyTTL, time.Hour)
	def(&cfg.RenewalThreshold, 5*time.Minute)
	def(&cfg.UnavailableCooldown, time.Hour)
	def(&cfg.RateLimitCooldown, time.Minute)
	def(&cfg.OverloadCooldown, 10*time.Second)
	def(&cfg.IdleTimeout, 5*time.Minute)
	def(&cfg.HeaderTimeout, max(10*time.Minute, cfg.IdleTimeout))
	def(&cfg.MaxThrottleWait, 2*time.Second)
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.Bindings == nil {
		cfg.Bindings = &sched.MemoryBindings{}
	}
	if cfg.Usage == nil {
		cfg.Usage = discard{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		cfg: cfg,
		log: cfg.Logger,
		now: cfg.Now,
		picker: &sched.Picker{
			Bindings: cfg.Bindings,
			TTL:      cfg.StickyTTL,
			Renewal:  cfg.RenewalThreshold,
			Strategy: cfg.Strategy, FillThreshold: cfg.FillThreshold,
		},
		policy: failover.Policy{
			RateLimitCooldown:   cfg.RateLimitCooldown,
			UnavailableCooldown: cfg.UnavailableCooldown,
			OverloadCooldown:    cfg.OverloadCooldown,
		},
	}
	s.picker.SetAvoidRunout(cfg.AvoidRunout)
	s.SetPaidDailyCap(cfg.PaidDailyUSD)
	s.SetClientKeys(cfg.ClientKeys)
	s.SetProfiles(cfg.Profiles)
	s.accounts.Store(&accountSet{served: map[pool.Protocol][]*entry{}, cands: map[pool.Protocol][]sched.Candidate{}})
	s.SetAccounts(cfg.Accounts)
	m, err := newMetrics(cfg.Registry, s)
	if err != nil {
		return nil, fmt.Errorf("relay: metrics: %w", err)
	}
	s.metrics = m
	s.mux = s.routes()
	return s, nil
}

// SetAccounts replaces the accounts the relay routes to. Accounts that stay
// (same id) keep their cooldowns and, if their proxy is unchanged, their
// connections.
func (s *Server) SetAccounts(accts []pool.Account) {
	old := s.accounts.Load()
	byID := make(map[string]*entry, len(old.all))
	for _, e := range old.all {
		byID[e.acct.ID] = e
	}
	next := &accountSet{served: map[pool.Protocol][]*entry{}, cands: map[pool.Protocol][]sched.Candidate{}}
	for _, a := range accts {
		e := &entry{acct: a, up: providerOf(a.Kind), state: pool.NewState(), runway: &runway.Tracker{}, stats: &accountStats{}}
		if o, ok := byID[a.ID]; ok {
			e.state, e.runway, e.stats = o.state, o.runway, o.stats
			if o.acct.WaitsForUser() && !a.WaitsForUser() {
				e.state.Clear() // logged in again, or the key entered: whatever rested it is over
			}
			if o.acct.AllowOverage != a.AllowOverage {
				restOnOverage(e, s.now())
			}
			if sameProxy(o.acct.Proxy, a.Proxy) {
				o.mu.Lock()
				e.transport, e.proxyPass = o.transport, o.proxyPass
				o.mu.Unlock()
			}
		}
		next.all = append(next.all, e)
		if provider.Known(a.Kind) {
			next.servable++
		}
		if len(a.Models) > 0 {
			next.modelRules = true
		}
		for _, p := range pool.Protocols {
			if provider.Serves(a, p) {
				next.served[p] = append(next.served[p], e)
				next.cands[p] = append(next.cands[p], e.candidate())
			}
		}
	}
	s.accounts.Store(next)
}

// sameProxy reports whether two accounts' proxies are the same (or both
// absent), so a changed account may keep its connections.
func sameProxy(a, b *pool.Proxy) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// transportFor returns the account's transport, building it on first use or
// when the proxy password changed.
func (e *entry) transportFor(proxyPassword string) (*http.Transport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.transport != nil && e.proxyPass == proxyPassword {
		return e.transport, nil
	}
	t, err := upstream.NewTransport(e.acct.Proxy, proxyPassword)
	if err != nil {
		return nil, err
	}
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	e.transport, e.proxyPass = t, proxyPassword
	return t, nil
}

// Close releases idle upstream connections.
func (s *Server) Close() {
	for _, e := range s.accounts.Load().all {
		e.mu.Lock()
		if e.transport != nil {
			e.transport.CloseIdleConnections()
		}
		e.mu.Unlock()
	}
}

type discard struct{}

func (discard) Record(UsageRecord) {}
