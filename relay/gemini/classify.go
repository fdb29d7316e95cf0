package gemini

import (
	"net/http"
	"time"

	"keypool/relay/failover"
	"keypool/relay/pool"
)

var _ failover.Classifier = Classify

// Classify is the failover table for Google's Generative Language
// API: a dead key (401, 403, or 400 API_KEY_INVALID) rests the account; a
// used-up daily or plan quota cools it until the retry delay Google gives
// (else the unavailable cooldown); a rate limit cools it for the retry
// delay.
//
// Google counts quotas per model, so a 429 cools the request's model family
// (for Gemini, the model) only: Gemini CLI's fall back from Pro to Flash
// must still find the account.
func Classify(status int, h http.Header, body []byte, fam pool.Family, now time.Time, p failover.Policy) failover.Verdict {
	switch {
	case status == http.StatusBadRequest:
		if ParseError(body).Reason == "API_KEY_INVALID" {
			return failover.Unavailable(now, p, "400 API key not valid")
		}
	case status == http.StatusTooManyRequests:
		e := ParseError(body)
		var v failover.Verdict
		switch {
		case e.Daily:
			// A daily quota: a short retry delay would only have the spent
			// key asked again every minute.
			v = failover.Verdict{Action: failover.Next, Until: now.Add(max(p.UnavailableCooldown, e.RetryDelay)), Reason: pool.ReasonQuota, Why: "429 daily quota exhausted"}
		case e.Reason == "QUOTA_EXHAUSTED":
			if e.RetryDelay > 0 {
				v = failover.Quota(fam, now.Add(e.RetryDelay), now, p, "429 quota exhausted")
			} else {
				v = failover.Verdict{Action: failover.Next, Until: now.Add(p.UnavailableCooldown), Reason: pool.ReasonQuota, Why: "429 quota exhausted"}
			}
		case e.RetryDelay > 0:
			v = failover.Throttle(now.Add(e.RetryDelay), "429 rate limited (retry delay)")
		default:
			if d, ok := failover.RetryAfter(h, now); ok {
				v = failover.Throttle(now.Add(d), "429 rate limited (retry-after)")
			} else {
				v = failover.Throttle(now.Add(p.RateLimitCooldown), "429 rate limited")
			}
		}
		v.Family = fam
		return v
	}
	return failover.Common(status, now, p)
}
