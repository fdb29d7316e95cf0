// Package failover decides what the relay does with an upstream answer that
// arrived before any byte went to the client: pass it through, or leave the
// account (cooling it, for every model or for one model family) and try the
// next. It is the failover table of README's "How it chooses and fails
// over" as code.
package failover

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keypool/relay/anthropic"
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

var (
	_ Classifier = Classify
	_ Classifier = ClassifyOpenAI
	_ Classifier = ClassifyGemini
)

// quotaMargin is added to a provider's reset time so the account is not
// tried a moment before the provider has reset it; up to quotaJitter more,
// drawn afresh for each cooldown, keeps several accounts (and other clients
// of the same plan) from all knocking in the same second.
const (
	quotaMargin = 2 * time.Second
	quotaJitter = 8 * time.Second
)

// Classify reads an upstream status, headers and (for errors) the start of
// the body. fam is the request's model family.
func Classify(status int, h http.Header, body []byte, fam pool.Family, now time.Time, p Policy) Verdict {
	switch status {
	case http.StatusTooManyRequests:
		return classify429(h, body, fam, now, p)
	case http.StatusBadRequest:
		// Anthropic reports an empty balance and a disabled organisation as
		// 400 invalid_request_error: the account's fault, not the request's.
		msg := strings.ToLower(anthropic.ParseError(body).Message)
		switch {
		case strings.Contains(msg, "credit balance is too low"):
			return unavailable(now, p, "400 credit balance too low")
		case strings.Contains(msg, "organization has been disabled"):
			return unavailable(now, p, "400 organization disabled")
		case anthropic.OutOfExtraUsage(msg):
			// A spent plan whose extra usage is used up too: the account
			// rests until its plan resets, else like a refused account.
			until, ok := epoch(h.Get(unified + "Reset"))
			if !ok || !until.After(now) {
				until = now.Add(p.UnavailableCooldown)
			}
			return Verdict{Action: Next, Until: until, Reason: pool.ReasonQuota, Why: "400 out of extra usage"}
		}
	}
	return common(status, now, p)
}

// common is the part of the table every provider shares: success and
// client errors pass, a refused key or account rests the account, a
// failing upstream is left for a short while.
func common(status int, now time.Time, p Policy) Verdict {
	switch {
	case status == http.StatusUnauthorized:
		return unavailable(now, p, "401 authentication failed")
	case status == http.StatusPaymentRequired:
		return unavailable(now, p, "402 payment required or credit exhausted")
	case status == http.StatusForbidden:
		return unavailable(now, p, "403 forbidden")
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

func unavailable(now time.Time, p Policy, why string) Verdict {
	return Verdict{Action: Next, Until: now.Add(p.UnavailableCooldown), Reason: pool.ReasonUnavailable, Why: why}
}

const unified = "Anthropic-Ratelimit-Unified-"

// classify429 tells a plan quota that is used up (cool until the provider's
// reset, for the family the quota covers) from a throttle (cool until
// retry-after, or the default).
func classify429(h http.Header, body []byte, fam pool.Family, now time.Time, p Policy) Verdict {
	e := anthropic.ParseError(body)
	if e.ErrorCode == "enforced_spend_limit_reached" {
		return unavailable(now, p, "429 spend limit reached")
	}
	if strings.Contains(strings.ToLower(e.Message), "fast mode") {
		// Credits for one request option, not the account: another account
		// would answer the same.
		return Verdict{Action: Pass}
	}

	// Subscription (unified) windows: 5h and 7d cover the account; a
	// rejection of only the per-model weekly windows covers the family.
	rejected := func(w string) bool { return strings.EqualFold(h.Get(unified+w+"-Status"), "rejected") }
	var until time.Time
	later := func(w string) {
		key := unified + "Reset" // the overall window
		if w != "" {
			key = unified + w + "-Reset"
		}
		// A reset already past says nothing of when the quota returns.
		if t, ok := epoch(h.Get(key)); ok && t.After(until) && t.After(now) {
			until = t
		}
	}
	whole := false
	for _, w := range []string{"5h", "7d"} {
		if rejected(w) {
			whole = true
			later(w)
		}
	}
	claim := h.Get(unified + "Representative-Claim")
	overall := strings.EqualFold(h.Get(unified+"Status"), "rejected")
	perModel := rejected("7d_oi") || rejected("7d_opus") || rejected("7d_sonnet")
	familyWide := perModel || strings.HasPrefix(claim, "seven_day_")
	if !whole && overall && !familyWide {
		// Rejected overall with no per-model window to blame: the whole
		// account, until the overall reset.
		whole = true
	}
	if whole {
		if until.IsZero() {
			later("")
		}
		return quota(pool.FamilyAll, until, now, p, "429 plan quota used up ("+nonEmpty(claim, "5h/7d")+")")
	}
	if familyWide && (overall || perModel) {
		later("7d_oi")
		for _, w := range []string{"7d_opus", "7d_sonnet"} {
			if rejected(w) || w == "7d_"+string(fam) {
				later(w)
			}
		}
		later("")
		return quota(fam, until, now, p, "429 weekly model quota used up ("+nonEmpty(claim, "7d_oi")+")")
	}

	// A throttle: retry-after, else the latest reset among the exhausted
	// API-key limits (all of them must have come back), else the default.
	if d, ok := retryAfter(h, now); ok {
		return throttle(now.Add(d), "429 throttled (retry-after)")
	}
	var reset time.Time
	for _, l := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		if h.Get("Anthropic-Ratelimit-"+l+"-Remaining") != "0" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, h.Get("Anthropic-Ratelimit-"+l+"-Reset")); err == nil && t.After(reset) {
			reset = t
		}
	}
	if reset.After(now) {
		return throttle(reset, "429 throttled (limit reset)")
	}
	return throttle(now.Add(p.RateLimitCooldown), "429 throttled")
}

func throttle(until time.Time, why string) Verdict {
	return Verdict{Action: Next, Until: until, Reason: pool.ReasonRateLimited, Why: why}
}

func quota(f pool.Family, until, now time.Time, p Policy, why string) Verdict {
	if !until.After(now) {
		until = now.Add(p.RateLimitCooldown)
	} else {
		until = until.Add(quotaMargin + rand.N(quotaJitter))
	}
	return Verdict{Action: Next, Family: f, Until: until, Reason: pool.ReasonQuota, Why: why}
}

// retryAfter reads retry-after-ms, then retry-after (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
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

// epoch reads unix seconds.
func epoch(v string) (time.Time, bool) {
	s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}, false
	}
	return time.Unix(s, 0), true
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
