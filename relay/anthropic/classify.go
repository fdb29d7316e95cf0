package anthropic

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"keypool/relay/failover"
	"keypool/relay/pool"
)

var _ failover.Classifier = Classify

// Classify is Anthropic's failover table: it reads an upstream status,
// headers and (for errors) the start of the body. fam is the request's
// model family: a per-model weekly window cools that family only.
func Classify(status int, h http.Header, body []byte, fam pool.Family, now time.Time, p failover.Policy) failover.Verdict {
	switch status {
	case http.StatusTooManyRequests:
		return classify429(h, body, fam, now, p)
	case http.StatusBadRequest:
		// Anthropic reports an empty balance and a disabled organisation as
		// 400 invalid_request_error: the account's fault, not the request's.
		msg := strings.ToLower(ParseError(body).Message)
		switch {
		case strings.Contains(msg, "credit balance is too low"):
			return failover.Unavailable(now, p, "400 credit balance too low")
		case strings.Contains(msg, "organization has been disabled"):
			return failover.Unavailable(now, p, "400 organization disabled")
		case OutOfExtraUsage(msg):
			// A spent plan whose extra usage is used up too: the account
			// rests until its plan resets, else like a refused account.
			until, ok := epoch(h.Get(unified + "Reset"))
			if !ok || !until.After(now) {
				until = now.Add(p.UnavailableCooldown)
			}
			return failover.Verdict{Action: failover.Next, Until: until, Reason: pool.ReasonQuota, Why: "400 out of extra usage"}
		}
	}
	return failover.Common(status, now, p)
}

const unified = "Anthropic-Ratelimit-Unified-"

// classify429 tells a plan quota that is used up (cool until the provider's
// reset, for the family the quota covers) from a throttle (cool until
// retry-after, or the default).
func classify429(h http.Header, body []byte, fam pool.Family, now time.Time, p failover.Policy) failover.Verdict {
	e := ParseError(body)
	if e.ErrorCode == "enforced_spend_limit_reached" {
		return failover.Unavailable(now, p, "429 spend limit reached")
	}
	if strings.Contains(strings.ToLower(e.Message), "fast mode") {
		// Credits for one request option, not the account: another account
		// would answer the same.
		return failover.Verdict{Action: failover.Pass}
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
		return failover.Quota(pool.FamilyAll, until, now, p, "429 plan quota used up ("+nonEmpty(claim, "5h/7d")+")")
	}
	if familyWide && (overall || perModel) {
		later("7d_oi")
		for _, w := range []string{"7d_opus", "7d_sonnet"} {
			if rejected(w) || w == "7d_"+string(fam) {
				later(w)
			}
		}
		later("")
		return failover.Quota(fam, until, now, p, "429 weekly model quota used up ("+nonEmpty(claim, "7d_oi")+")")
	}

	// A throttle: retry-after, else the latest reset among the exhausted
	// API-key limits (all of them must have come back), else the default.
	if d, ok := failover.RetryAfter(h, now); ok {
		return failover.Throttle(now.Add(d), "429 throttled (retry-after)")
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
		return failover.Throttle(reset, "429 throttled (limit reset)")
	}
	return failover.Throttle(now.Add(p.RateLimitCooldown), "429 throttled")
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
