// Package pool is the relay's vocabulary: the accounts it can route to, the
// protocols they speak, and each account's live state (cooldowns, in-flight
// requests). It is a leaf package so every other relay package can share it.
package pool

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is an account type as written in the config file.
type Kind string

// The account types Keypool knows and serves. relay/provider says what
// each one is and answers.
const (
	KindClaudeAPI        Kind = "claude-api"
	KindClaudeOAuth      Kind = "claude-oauth"
	KindCodexOAuth       Kind = "codex-oauth"
	KindOpenAIResponses  Kind = "openai-responses"
	KindOpenAICompatible Kind = "openai-compatible"
	KindGemini           Kind = "gemini"
	KindGeminiAPI        Kind = "gemini-api"
)

// Protocol is the wire protocol a route speaks and an account can serve.
type Protocol string

// The protocols routes speak.
const (
	ProtocolAnthropic Protocol = "anthropic" // Anthropic's Messages API
	ProtocolResponses Protocol = "responses" // OpenAI's Responses API (Codex CLI)
	ProtocolGemini    Protocol = "gemini"    // Google's Generative Language API (Gemini CLI)
	ProtocolChat      Protocol = "chat"      // OpenAI Chat Completions (Cursor, Cline…)
)

// Protocols lists every protocol, for building per-protocol candidate lists.
var Protocols = []Protocol{ProtocolAnthropic, ProtocolResponses, ProtocolGemini, ProtocolChat}

// WaitsForUser reports whether the account can serve nothing until the
// user acts: logs in again, or enters its key.
func (a Account) WaitsForUser() bool { return a.NeedsLogin || a.NeedsKey }

// AuthHeader says how an API key is presented upstream.
type AuthHeader string

const (
	AuthXAPIKey AuthHeader = "x-api-key" // Anthropic's own header (default)
	AuthBearer  AuthHeader = "bearer"    // Authorization: Bearer, for Claude-compatible third parties
)

// Proxy is an account's outbound proxy. The password is not here: it is a
// secret and comes with the account's Credential.
type Proxy struct {
	Type     string `json:"type"` // "socks5" or "http"
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username,omitempty"`
}

// Account is one upstream account as the relay sees it: no secrets.
type Account struct {
	ID         string
	Name       string
	Kind       Kind
	Priority   int // larger is preferred
	Enabled    bool
	APIURL     string // base URL without a trailing slash
	AuthHeader AuthHeader
	Proxy      *Proxy
	// NeedsLogin marks an OAuth account whose refresh token was refused
	// (or whose tokens are gone): it serves nothing until the user logs in
	// again.
	NeedsLogin bool
	// NeedsKey marks an account whose API key is missing: it serves
	// nothing until the user enters the key again.
	NeedsKey bool
	// LoginEnds is when an OAuth account's login (its refresh token, or a
	// setup token) stops working, where the provider said; zero: unknown.
	// The relay only reports it.
	LoginEnds time.Time
	// ProviderAccountID names the account at its provider where requests
	// must say it (ChatGPT-Account-ID for a ChatGPT login).
	ProviderAccountID string
	// DailyBudgetUSD and MonthlyBudgetUSD cap what an API-key account
	// spends (0: no cap); past a cap it rests until the period ends.
	DailyBudgetUSD, MonthlyBudgetUSD float64
	// Project is a Gemini Code Assist account's Google Cloud project.
	Project string
	// ConvertedTraffic lets a subscription (claude-oauth) account also
	// answer OpenAI-format chat, converted: off by default, since a
	// subscription is meant for Claude Code's own traffic.
	ConvertedTraffic bool
	// Models limits the account to matching model names ("*" matches any
	// run of characters); empty: every model.
	Models []string
	// AllowOverage lets a subscription whose plan is spent go on serving
	// on its provider's paid extra usage, after every account that can
	// serve within a plan. Off by default: extra usage is billed per token.
	AllowOverage bool
}

// Allows reports whether the account may serve model. A request without a
// model (the model list) is allowed everywhere.
func (a Account) Allows(model string) bool {
	if len(a.Models) == 0 || model == "" {
		return true
	}
	for _, pat := range a.Models {
		if MatchWildcard(pat, model) {
			return true
		}
	}
	return false
}

// MatchWildcard matches s against pattern, where "*" stands for any run of
// characters (including none) and everything else matches itself.
func MatchWildcard(pattern, s string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == s
	}
	if !strings.HasPrefix(s, pattern[:star]) {
		return false
	}
	s, pattern = s[star:], pattern[star+1:]
	if pattern == "" {
		return true
	}
	// Try every place the rest of the pattern could start.
	for i := 0; i <= len(s); i++ {
		if MatchWildcard(pattern, s[i:]) {
			return true
		}
	}
	return false
}

// Family groups models that share a provider quota, so that a weekly limit on
// one model (say Opus) cools the account for that family only.
type Family string

// FamilyAll is the family a whole-account cooldown is recorded under.
const FamilyAll Family = ""

// FamilyOf maps a model name to its quota family.
func FamilyOf(model string) Family {
	m := strings.ToLower(model)
	for _, f := range []string{"opus", "sonnet", "haiku"} {
		if strings.Contains(m, f) {
			return Family(f)
		}
	}
	return Family(m)
}

// Reason says why an account is not usable.
type Reason string

const (
	ReasonRateLimited Reason = "rate_limited"  // throttle 429 with a short retry-after
	ReasonQuota       Reason = "quota"         // plan quota (5-hour, weekly or per model) used up
	ReasonUnavailable Reason = "unavailable"   // 401, 402, 403: key dead, out of credit or forbidden
	ReasonOverloaded  Reason = "overloaded"    // 529 or another 5xx
	ReasonConnection  Reason = "connection"    // the upstream could not be reached: refused, reset, DNS, TLS or proxy failure
	ReasonTimeout     Reason = "timeout"       // no answer from the upstream within the header or idle timeout
	ReasonDisabled    Reason = "disabled"      // switched off by the user
	ReasonUnsupported Reason = "not_supported" // type not yet served by this build
	ReasonNeedsLogin  Reason = "needs_login"   // refresh token refused: log in again
	ReasonNeedsKey    Reason = "needs_key"     // the API key is missing: enter it again
	ReasonBudget      Reason = "budget"        // the account's daily or monthly USD cap is spent
	ReasonOverage     Reason = "overage"       // the plan is spent and answers would be billed as extra usage
)

// Cooldown is a period during which an account (or one of its families)
// is skipped.
type Cooldown struct {
	Until  time.Time
	Reason Reason
}

// State is an account's live, in-memory state. It is safe for concurrent use.
type State struct {
	inFlight atomic.Int64

	// overage is the latest extra-usage reading (nil: none). It is read
	// on the picker's path, so without the lock.
	overage atomic.Pointer[Overage]

	mu    sync.Mutex
	cools map[Family]Cooldown // FamilyAll covers every model
	quota []Quota             // latest plan readings, replaced whole

	spendDay, spendMonth     float64 // USD spent in the current day and month
	spendDayKey, spendMonKey string  // which day and month (local) they count
}

// AddSpend counts usd spent at t, starting a new day or month as the
// calendar turns, and returns the day's and the month's totals.
func (s *State) AddSpend(t time.Time, usd float64) (day, month float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollLocked(t)
	s.spendDay += usd
	s.spendMonth += usd
	return s.spendDay, s.spendMonth
}

// SetSpend sets what was spent on t's day and in its month (at start, from
// the records so far).
func (s *State) SetSpend(t time.Time, day, month float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollLocked(t)
	s.spendDay, s.spendMonth = day, month
}

// Spent returns what was spent on t's day and in its month.
func (s *State) Spent(t time.Time) (day, month float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollLocked(t)
	return s.spendDay, s.spendMonth
}

func (s *State) rollLocked(t time.Time) {
	d, m := t.Format("2006-01-02"), t.Format("2006-01")
	if s.spendDayKey != d {
		s.spendDayKey, s.spendDay = d, 0
	}
	if s.spendMonKey != m {
		s.spendMonKey, s.spendMonth = m, 0
	}
}

// NewState returns an empty state: usable, nothing in flight.
func NewState() *State { return &State{} }

// Cool marks the account unusable for family f (FamilyAll: every model) until
// the given time. A later end wins over an earlier one.
func (s *State) Cool(f Family, until time.Time, reason Reason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cools == nil {
		s.cools = make(map[Family]Cooldown, 2)
	}
	if c, ok := s.cools[f]; ok && c.Until.After(until) {
		return
	}
	s.cools[f] = Cooldown{Until: until, Reason: reason}
}

// Uncool removes the cooldowns given for reason.
func (s *State) Uncool(reason Reason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for f, c := range s.cools {
		if c.Reason == reason {
			delete(s.cools, f)
		}
	}
}

// Clear removes every cooldown.
func (s *State) Clear() {
	s.mu.Lock()
	s.cools = nil
	s.mu.Unlock()
}

// CoolingFor returns the cooldown that keeps family f off this account at
// now, if any: the later of the whole-account and the family cooldown.
func (s *State) CoolingFor(now time.Time, f Family) (Cooldown, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out Cooldown
	found := false
	for _, key := range [2]Family{FamilyAll, f} {
		if c, ok := s.cools[key]; ok && c.Until.After(now) && (!found || c.Until.After(out.Until)) {
			out, found = c, true
		}
		if f == FamilyAll {
			break
		}
	}
	return out, found
}

// Cooldowns returns the cooldowns still running at now, by family.
func (s *State) Cooldowns(now time.Time) map[Family]Cooldown {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out map[Family]Cooldown
	for f, c := range s.cools {
		if c.Until.After(now) {
			if out == nil {
				out = make(map[Family]Cooldown, len(s.cools))
			}
			out[f] = c
		}
	}
	return out
}

// InFlight is the number of requests the account is serving now.
func (s *State) InFlight() int64 { return s.inFlight.Load() }

// Begin counts a request in; the returned func counts it out.
func (s *State) Begin() (end func()) {
	s.inFlight.Add(1)
	return func() { s.inFlight.Add(-1) }
}

// Usage is the token count of one answer, as the provider reported it.
// Input excludes cache reads and writes (Anthropic's convention).
type Usage struct {
	InputTokens      int64 `json:"input_tokens"`
	OutputTokens     int64 `json:"output_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens"`
	CacheReadTokens  int64 `json:"cache_read_tokens"`
	// RawInputTokens is the input count as the provider reported it:
	// OpenAI and Gemini include cached tokens there, Anthropic does not.
	RawInputTokens int64 `json:"raw_input_tokens,omitempty"`
}

// Add sums two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{
		InputTokens:      u.InputTokens + o.InputTokens,
		OutputTokens:     u.OutputTokens + o.OutputTokens,
		CacheWriteTokens: u.CacheWriteTokens + o.CacheWriteTokens,
		CacheReadTokens:  u.CacheReadTokens + o.CacheReadTokens,
		RawInputTokens:   u.RawInputTokens + o.RawInputTokens,
	}
}

// Quota is one plan window's latest reading from a provider's headers.
type Quota struct {
	Window      string    `json:"window"`      // "5h", "7d", "7d_opus", "primary"…
	Utilization float64   `json:"utilization"` // 0..1
	ResetsAt    time.Time `json:"resets_at,omitzero"`
	Status      string    `json:"status,omitempty"` // allowed, allowed_warning, rejected
}

// String is the window in words, for people: "5h 42% until Mon 14:00".
func (q Quota) String() string {
	s := fmt.Sprintf("%s %.0f%%", q.Window, q.Utilization*100)
	if !q.ResetsAt.IsZero() {
		s += " until " + q.ResetsAt.Local().Format("Mon 15:04")
	}
	return s
}

// QuotaText is an account's plan windows in words, separated by sep.
func QuotaText(qs []Quota, sep string) string {
	parts := make([]string, len(qs))
	for i, q := range qs {
		parts[i] = q.String()
	}
	return strings.Join(parts, sep)
}

// SetQuota keeps the latest plan readings (none: the last ones stay).
func (s *State) SetQuota(q []Quota) {
	if len(q) == 0 {
		return
	}
	s.mu.Lock()
	s.quota = q
	s.mu.Unlock()
}

// Quota returns the latest plan readings.
func (s *State) Quota() []Quota {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quota
}

// Overage is a subscription's extra usage (paid overage) as its answers
// last reported it: whether its plan is spent and it answers billed per
// token, and until when.
type Overage struct {
	// InUse: the plan's windows are spent and answers are billed as extra
	// usage.
	InUse bool `json:"in_use"`
	// Status is the extra usage's own status: allowed, allowed_warning,
	// or rejected (closed: no credit left, or turned off).
	Status string `json:"status,omitempty"`
	// DisabledReason says why a rejected extra usage is closed
	// ("out_of_credits").
	DisabledReason string `json:"disabled_reason,omitempty"`
	// Utilization is how much of the extra-usage allowance is spent (0..1).
	Utilization float64 `json:"utilization,omitempty"`
	// Until is when the plan's window resets: answers are free again.
	Until time.Time `json:"until,omitzero"`
	// Since is when the account was first seen in this state.
	Since time.Time `json:"since,omitzero"`
}

// Same reports whether o and p say the same, whenever they were seen.
func (o Overage) Same(p Overage) bool {
	o.Since = p.Since
	return o == p
}

// Paid reports whether the account answers on paid extra usage at now.
func (o *Overage) Paid(now time.Time) bool {
	return o != nil && o.InUse && o.Until.After(now)
}

// Text says it for people: "on extra usage (paid) until 15:05" (a day
// name when the reset is not today), or "" when it is not in use.
func (o *Overage) Text(now time.Time, loc *time.Location) string {
	if !o.Paid(now) {
		return ""
	}
	until := o.Until.In(loc)
	layout := "15:04"
	if y, m, d := now.In(loc).Date(); until.Day() != d || until.Month() != m || until.Year() != y {
		layout = "Mon 15:04"
	}
	return "on extra usage (paid) until " + until.Format(layout)
}

// SetOverage keeps the latest extra-usage reading. A reading that says the
// same as the last one keeps it (and its Since), so a stream of answers in
// one state costs no allocation; it reports whether the state changed.
func (s *State) SetOverage(o Overage) (changed bool) {
	if cur := s.overage.Load(); cur != nil && cur.Same(o) {
		return false
	}
	s.overage.Store(&o)
	return true
}

// Overage returns the latest extra-usage reading (nil: none).
func (s *State) Overage() *Overage { return s.overage.Load() }

// PaidOverage reports whether the account answers on paid extra usage at now.
func (s *State) PaidOverage(now time.Time) bool { return s.overage.Load().Paid(now) }

// IDRule says in words what ValidID accepts.
const IDRule = "may only contain letters, digits, '.', '_' and '-', 1 to 64 of them"

// ValidID reports whether id may name an account or a client key: 1 to 64
// ASCII letters, digits, '.', '_' or '-', so it is safe in a keychain entry's
// name, a URL path and a log line.
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
