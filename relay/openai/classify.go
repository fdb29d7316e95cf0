package openai

import (
	"net/http"
	"time"

	"keypool/relay/failover"
	"keypool/relay/pool"
)

var _ failover.Classifier = Classify

// Classify is the failover table for OpenAI's Responses API and the
// ChatGPT backend: a plan's usage limit (usage_limit_reached, with its reset
// time) cools the account until then; an exhausted API balance rests it; a
// throttle cools it until retry-after or the rate-limit reset. OpenAI's
// limits are per account, so the model family plays no part.
func Classify(status int, h http.Header, body []byte, _ pool.Family, now time.Time, p failover.Policy) failover.Verdict {
	if status != http.StatusTooManyRequests {
		return failover.Common(status, now, p)
	}
	e := ParseError(body, now)
	switch {
	case e.Type == "usage_limit_reached" || e.Code == "usage_limit_reached":
		reset := e.ResetsAt
		if reset.IsZero() {
			// No time in the body: the headers' spent window says when.
			reset = spentReset(PlanQuota(h))
		}
		return failover.Quota(pool.FamilyAll, reset, now, p, "429 plan usage limit reached")
	case e.Code == "insufficient_quota" || e.Type == "insufficient_quota":
		return failover.Unavailable(now, p, "429 insufficient quota")
	}
	if d, ok := failover.RetryAfter(h, now); ok {
		return failover.Throttle(now.Add(d), "429 throttled (retry-after)")
	}
	var reset time.Duration
	for _, k := range []string{"X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens"} {
		if d, err := time.ParseDuration(h.Get(k)); err == nil && d > reset {
			reset = d
		}
	}
	if reset > 0 {
		return failover.Throttle(now.Add(reset), "429 throttled (limit reset)")
	}
	return failover.Throttle(now.Add(p.RateLimitCooldown), "429 throttled")
}

// spentReset is when the last of the used-up plan windows resets, or zero
// when none is used up or none says.
func spentReset(qs []pool.Quota) time.Time {
	var t time.Time
	for _, q := range qs {
		if q.Utilization >= 1 && q.ResetsAt.After(t) {
			t = q.ResetsAt
		}
	}
	return t
}
