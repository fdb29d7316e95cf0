package relay

import (
	"log/slog"
	"net/http"
	"time"

	"keypool/relay/failover"
	"keypool/relay/pool"
)

// readOverage keeps what an answer says of its account's extra usage. A
// subscription that answers on paid extra usage without the user's leave
// (allow_overage) is left before a byte reaches the client, as a spent plan
// is, and rests until its plan resets: plans first, money only when the
// user chose it. It reports true when the account is to be left.
func (s *Server) readOverage(a *request, h http.Header) (verdict, bool) {
	read := a.e.up.Overage
	if read == nil {
		return verdict{}, false
	}
	o, ok := read(h)
	if !ok {
		return verdict{}, false
	}
	now := s.now()
	if o.InUse && !o.Until.After(now) {
		// No reset given: look again after the cooldown of a refused account.
		o.Until = now.Add(s.cfg.UnavailableCooldown)
	}
	o.Since = now
	e := a.e
	if e.state.SetOverage(o) && o.InUse {
		s.log.LogAttrs(a.ctx, slog.LevelWarn, "account answers on paid extra usage",
			slog.String("account", e.acct.ID), slog.Time("plan_resets", o.Until), slog.Bool("allow_overage", e.acct.AllowOverage))
	}
	if !o.Paid(now) || e.acct.AllowOverage {
		return verdict{}, false
	}
	return verdict{Verdict: failover.Verdict{Action: failover.Next, Until: o.Until, Reason: pool.ReasonOverage,
		Why: "plan spent: it answers on paid extra usage, and allow_overage is off"}}, true
}

// SetOverage restores an account's last extra-usage reading (at start): an
// account still on paid extra usage without the user's leave rests until
// its plan resets, so it gets no request meanwhile.
func (s *Server) SetOverage(account string, o pool.Overage) {
	now := s.now()
	for _, e := range s.accounts.Load().all {
		if e.acct.ID == account {
			e.state.SetOverage(o)
			restOnOverage(e, now)
		}
	}
}

// restOnOverage rests e until its plan resets while it would answer on
// paid extra usage without the user's leave, and lifts that rest once the
// user gives it.
func restOnOverage(e *entry, now time.Time) {
	o := e.state.Overage()
	switch {
	case e.acct.AllowOverage:
		e.state.Uncool(pool.ReasonOverage)
	case o.Paid(now):
		e.state.Cool(pool.FamilyAll, o.Until, pool.ReasonOverage)
	}
}
