package relay

import (
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"keypool/relay/pool"
	"keypool/relay/provider"
	"keypool/relay/sched"
)

// What counts as paid: an answer from an account billed per token, that is
// an API key (Anthropic's, OpenAI's, Google's, a mirror's), or from a
// subscription serving on paid extra usage. A subscription's or a login's
// answers within its plan are not: the plan is paid for already.

// PaidEpisode is the time since the plans of one protocol ran out and a
// paid account took over: it begins with the first paid answer that finds
// no plan able to serve, and ends as soon as a plan can serve again.
type PaidEpisode struct {
	Protocol pool.Protocol `json:"protocol"`
	// Plans names the plans for people: "Claude", "Codex", "Gemini".
	Plans string `json:"plans"`
	// Since is when the first paid answer of the episode was served.
	Since time.Time `json:"since"`
	// Until is when the first plan is back, if known.
	Until time.Time `json:"until,omitzero"`
	// Account and Name are the account that paid last.
	Account string `json:"account"`
	Name    string `json:"name"`
	// SpentUSD is what the episode's paid answers cost.
	SpentUSD float64 `json:"spent_usd"`
}

// Text says it for people: "Claude plans are spent until 15:05 — now
// paying with api-work; $0.42 since 14:05".
func (p PaidEpisode) Text(loc *time.Location) string {
	s := p.Plans + " plans are spent"
	if !p.Until.IsZero() {
		s += " until " + p.Until.In(loc).Format("15:04")
	}
	return s + fmt.Sprintf(" — now paying with %s; %s since %s", p.Name, dollars(p.SpentUSD), p.Since.In(loc).Format("15:04"))
}

// dollars is an amount for people: "$0.42", and "<$0.01" for a cent's
// fraction, which "$0.00" would hide.
func dollars(usd float64) string {
	if usd > 0 && usd < 0.005 {
		return "<$0.01"
	}
	return fmt.Sprintf("$%.2f", usd)
}

// PaidCap is the pool-wide daily cap on paid answers and what was paid
// today against it.
type PaidCap struct {
	DailyUSD float64 `json:"daily_usd"`
	SpentUSD float64 `json:"spent_today_usd"`
	// Reached: paid answers are refused until midnight.
	Reached bool `json:"reached"`
}

// paying keeps the relay's paid answers: the day's paid spend against the
// pool-wide cap, and the episode of each protocol whose plans are spent.
type paying struct {
	capBits atomic.Uint64 // the cap in USD, as float64 bits (0: none)
	day     pool.State    // only its spend counters are used

	mu       sync.Mutex
	episodes map[pool.Protocol]*PaidEpisode
	// running: some episode is under way, so a paid answer that finds the
	// plans serving must end it (read without the lock).
	running atomic.Bool
}

// SetPaidDailyCap sets the pool-wide daily cap on paid answers, in USD
// (0: none). It may be called while the relay serves.
func (s *Server) SetPaidDailyCap(usd float64) { s.paid.capBits.Store(math.Float64bits(max(usd, 0))) }

// SetPaidSpend starts today's paid spend (at start, from the records).
func (s *Server) SetPaidSpend(at time.Time, usd float64) { s.paid.day.SetSpend(at, usd, 0) }

func (p *paying) cap() float64 { return math.Float64frombits(p.capBits.Load()) }

// capped reports whether today's paid answers have reached the cap.
func (p *paying) capped(now time.Time) bool {
	c := p.cap()
	if c <= 0 {
		return false
	}
	day, _ := p.day.Spent(now)
	return day >= c
}

// isPaid reports whether an answer from e at now is billed per token.
func isPaid(e *entry, now time.Time) bool {
	return !e.up.IsOAuth() || e.state.PaidOverage(now)
}

// plansOut reports whether protocol proto has plans (logins) and none of
// them can serve new work at now, and when the first is back.
func plansOut(cands []sched.Candidate, now time.Time) (out bool, back time.Time) {
	plans := 0
	for _, c := range cands {
		if !provider.IsOAuth(c.Account.Kind) || !c.Account.Enabled {
			continue
		}
		plans++
		if sched.Usable(c, now, pool.FamilyAll) && !c.State.PaidOverage(now) {
			return false, time.Time{}
		}
		if c.Account.WaitsForUser() {
			continue
		}
		t := now
		if cd, ok := c.State.CoolingFor(now, pool.FamilyAll); ok {
			t = cd.Until
		}
		if o := c.State.Overage(); o.Paid(now) && o.Until.After(t) {
			t = o.Until
		}
		if back.IsZero() || t.Before(back) {
			back = t
		}
	}
	return plans > 0, back
}

// planNames names each protocol's plans for people.
var planNames = map[pool.Protocol]string{pool.ProtocolAnthropic: "Claude", pool.ProtocolResponses: "Codex",
	pool.ProtocolGemini: "Gemini", pool.ProtocolChat: "Chat"}

// countPaid counts a priced answer the client got from a paid account:
// against the daily cap, and in its protocol's episode, which it begins
// when the protocol's plans are spent (logged once per episode).
func (s *Server) countPaid(a *request) {
	rec, e := &a.rec, a.e
	if e == nil || rec.Account != e.acct.ID || rec.Status >= 400 || !isPaid(e, rec.Time) {
		return
	}
	rec.Paid = true
	s.paid.day.AddSpend(rec.Time, rec.CostUSD)
	proto := a.rt.dialect.proto
	out, back := plansOut(s.accounts.Load().cands[proto], s.now())
	if !out && !s.paid.running.Load() {
		return // a pool of keys alone, or plans serving: nothing to end
	}
	s.paid.mu.Lock()
	defer s.paid.mu.Unlock()
	defer func() { s.paid.running.Store(len(s.paid.episodes) > 0) }()
	ep := s.paid.episodes[proto]
	if !out {
		delete(s.paid.episodes, proto)
		return
	}
	if ep == nil {
		ep = &PaidEpisode{Protocol: proto, Plans: planNames[proto], Since: rec.Time}
		if s.paid.episodes == nil {
			s.paid.episodes = map[pool.Protocol]*PaidEpisode{}
		}
		s.paid.episodes[proto] = ep
		s.log.LogAttrs(a.ctx, slog.LevelWarn, "plans spent: paying per token",
			slog.String("protocol", string(proto)), slog.String("account", e.acct.ID), slog.Time("plans_back", back))
	}
	ep.Until, ep.Account, ep.Name = back, e.acct.ID, e.acct.Name
	ep.SpentUSD += rec.CostUSD
}

// paidHealth is the episodes still running at now (one ends when a plan
// of its protocol can serve again) and the cap, for /health.
func (s *Server) paidHealth(now time.Time, set *accountSet) ([]PaidEpisode, *PaidCap) {
	var cp *PaidCap
	if c := s.paid.cap(); c > 0 {
		day, _ := s.paid.day.Spent(now)
		cp = &PaidCap{DailyUSD: c, SpentUSD: day, Reached: day >= c}
	}
	s.paid.mu.Lock()
	defer s.paid.mu.Unlock()
	defer func() { s.paid.running.Store(len(s.paid.episodes) > 0) }()
	var out []PaidEpisode
	for _, p := range pool.Protocols {
		ep := s.paid.episodes[p]
		if ep == nil {
			continue
		}
		if still, back := plansOut(set.cands[p], now); !still {
			delete(s.paid.episodes, p)
			continue
		} else {
			ep.Until = back
		}
		out = append(out, *ep)
	}
	return out, cp
}

// capRefusal answers a request that only paid accounts could serve once
// the day's cap on paid answers is reached, and reports whether it did.
func (s *Server) capRefusal(a *request, served []*entry, cands []sched.Candidate, now time.Time) bool {
	blocked := false
	for i, e := range served {
		if isPaid(e, now) && sched.Usable(cands[i], now, a.fam) && e.acct.Allows(a.req.Model) {
			blocked = true
			break
		}
	}
	if !blocked {
		return false
	}
	day, _ := s.paid.day.Spent(now)
	midnight := nextMidnight(now)
	msg := fmt.Sprintf("Keypool: today's cap on paid answers ([spend] paid_daily_usd = $%.2f) is reached ($%.2f paid today); "+
		"API keys and extra usage serve again at midnight", s.paid.cap(), day)
	wait := midnight.Sub(now)
	if _, back := plansOut(cands, now); !back.IsZero() && back.Before(midnight) {
		msg += fmt.Sprintf(", and the first plan is back at %s", back.UTC().Format(time.RFC3339))
		wait = back.Sub(now)
	}
	s.fail(a, 429, msg, max(wait, time.Second))
	return true
}
