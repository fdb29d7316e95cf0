// Package failover holds the rules every provider's failover table shares:
// what the relay does with an upstream answer that arrived before any byte
// went to the client (pass it through, or leave the account, cooling it for
// every model or for one model family, and try the next), the verdicts for
// a transport error and a timeout, and the cooldowns' arithmetic. Each
// provider's own table (a Classifier) lives beside its wire format, in
// relay/anthropic, relay/openai and relay/gemini (docs/failover.md).
package failover

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"keypool/relay/pool"
)

// Action is what the relay does next.
type Action int

const (
	// Pass sends the answer to the client: a success, or a client error that
	// any other account would answer the same way.
	Pass Action = iota
	// Next cools the account as the verdict says and tries another.
	Next
)

// Verdict is the decision for one upstream answer.
type Verdict struct {
	Action Action
	Family pool.Family // pool.FamilyAll: the whole account
	Until  time.Time   // end of the cooldown (Next only)
	Reason pool.Reason
	// Why is a short, secret-free explanation for logs and the UI.
	Why string
}

// Policy holds the cooldowns used when the upstream names no time.
type Policy struct {
	RateLimitCooldown   time.Duration // 429 without retry-after or reset
	UnavailableCooldown time.Duration // 401, 402, 403, spend limit
	OverloadCooldown    time.Duration // 529, 5xx, connect errors, timeouts
}

// Classifier is one provider's failover table: it reads an upstream status,
// headers and (for errors) the start of the body; fam is the request's model
// family, for providers whose limits are per model.
type Classifier func(status int, h http.Header, body []byte, fam pool.Family, now time.Time, p Policy) Verdict

// quotaMargin is added to a provider's reset time so the account is not
// tried a moment before the provider has reset it; up to quotaJitter more,
// drawn afresh for each cooldown, keeps several accounts (and other clients
// of the same plan) from all knocking in the same second.
const (
	quotaMargin = 2 * time.Second
	quotaJitter = 8 * time.Second
)

// Common is the part of the table every provider shares: success and
// client errors pass, a refused key or account rests the account, a
// failing upstream is left for a short while.
func Common(status int, now time.Time, p Policy) Verdict {
	switch {
	case status == http.StatusUnauthorized:
		return Unavailable(now, p, "401 authentication failed")
	case status == http.StatusPaymentRequired:
		return Unavailable(now, p, "402 payment required or credit exhausted")
	case status == http.StatusForbidden:
		return Unavailable(now, p, "403 forbidden")
	case status == http.StatusRequestTimeout:
		return Timeout(now, p, "408 upstream timed out")
	case status == 529 || status >= 500:
		return Verdict{Action: Next, Until: now.Add(p.OverloadCooldown), Reason: pool.ReasonOverloaded,
			Why: strconv.Itoa(status) + " upstream overloaded or failing"}
	}
	return Verdict{Action: Pass}
}

// TransportError is the verdict for a request that could not reach the
// upstream: connection refused or reset, DNS, TLS or proxy failure. The
// account is left for a short while, as for an overload, but the reason
// says what happened.
func TransportError(now time.Time, p Policy, why string) Verdict {
	return Verdict{Action: Next, Until: now.Add(p.OverloadCooldown), Reason: pool.ReasonConnection, Why: why}
}

// Timeout is the verdict for a request that got no answer within the
// relay's header or idle timeout.
func Timeout(now time.Time, p Policy, why string) Verdict {
	return Verdict{Action: Next, Until: now.Add(p.OverloadCooldown), Reason: pool.ReasonTimeout, Why: why}
}

// Unavailable rests the account for the unavailable cooldown: a refused
// key or account, an empty balance.
func Unavailable(now time.Time, p Policy, why string) Verdict {
	return Verdict{Action: Next, Until: now.Add(p.UnavailableCooldown), Reason: pool.ReasonUnavailable, Why: why}
}

// Throttle cools the whole account until a throttle ends.
func Throttle(until time.Time, why string) Verdict {
	return Verdict{Action: Next, Until: until, Reason: pool.ReasonRateLimited, Why: why}
}

// Quota cools family f until a plan quota resets (with a margin and a
// little jitter), or for the rate-limit cooldown when the reset is unknown.
func Quota(f pool.Family, until, now time.Time, p Policy, why string) Verdict {
	if !until.After(now) {
		until = now.Add(p.RateLimitCooldown)
	} else {
		until = until.Add(quotaMargin + rand.N(quotaJitter))
	}
	return Verdict{Action: Next, Family: f, Until: until, Reason: pool.ReasonQuota, Why: why}
}

// RetryAfter reads retry-after-ms, then retry-after (seconds or an HTTP date).
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return max(time.Duration(ms*float64(time.Millisecond)), time.Second/10), true
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return max(time.Duration(s*float64(time.Second)), time.Second/10), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), time.Second/10), true
	}
	return 0, false
}
