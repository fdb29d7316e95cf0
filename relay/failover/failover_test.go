package failover_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"keypool/relay/anthropic"
	"keypool/relay/failover"
	"keypool/relay/gemini"
	"keypool/relay/openai"
	"keypool/relay/pool"
)

// now is the fixed clock every case is classified at.
var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// policy has cooldowns that differ from each other and from every time an
// upstream names below, so a verdict that takes the wrong one fails.
var policy = failover.Policy{
	RateLimitCooldown:   90 * time.Second,
	UnavailableCooldown: 2 * time.Hour,
	OverloadCooldown:    15 * time.Second,
}

// margin is the failover package's quotaMargin: a plan quota is cooled
// until the provider's reset plus this, plus up to jitter more.
const (
	margin = 2 * time.Second
	jitter = 8 * time.Second
)

// hdr builds response headers the way net/http hands them to the relay:
// names as the upstream spells them (lower case), canonicalised by Add.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// unix is an epoch-seconds header value.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// want is what a case checks of a verdict.
type want struct {
	action failover.Action
	reason pool.Reason
	family pool.Family
	until  time.Time // zero for Pass
}

// The verdicts that take their time from the policy alone.
var (
	pass        = want{action: failover.Pass}
	unavailable = next(pool.ReasonUnavailable, pool.FamilyAll, now.Add(policy.UnavailableCooldown))
	overloaded  = next(pool.ReasonOverloaded, pool.FamilyAll, now.Add(policy.OverloadCooldown))
	timedOut    = next(pool.ReasonTimeout, pool.FamilyAll, now.Add(policy.OverloadCooldown))
)

func next(r pool.Reason, f pool.Family, until time.Time) want {
	return want{action: failover.Next, reason: r, family: f, until: until}
}

// throttled is a whole-account rate limit that ends d from now.
func throttled(d time.Duration) want {
	return next(pool.ReasonRateLimited, pool.FamilyAll, now.Add(d))
}

func actionName(a failover.Action) string {
	switch a {
	case failover.Pass:
		return "Pass"
	case failover.Next:
		return "Next"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// check compares a verdict with what the case wants, field by field, and
// requires a Why on every Next (it is what logs and the UI show).
func check(t *testing.T, got failover.Verdict, w want) {
	t.Helper()
	if got.Action != w.action {
		t.Errorf("Action = %s, want %s (verdict %+v)", actionName(got.Action), actionName(w.action), got)
	}
	if got.Reason != w.reason {
		t.Errorf("Reason = %q, want %q", got.Reason, w.reason)
	}
	if got.Family != w.family {
		t.Errorf("Family = %q, want %q", got.Family, w.family)
	}
	// A quota cooldown ends at its time plus a jitter; every other one at
	// its time exactly.
	late := time.Duration(0)
	if w.reason == pool.ReasonQuota {
		late = jitter
	}
	if got.Until.Before(w.until) || got.Until.Sub(w.until) > late {
		t.Errorf("Until = %s, want %s (up to %s later)", rel(got.Until), rel(w.until), late)
	}
	if got.Action == failover.Next && got.Why == "" {
		t.Errorf("Why is empty on a Next verdict: %+v", got)
	}
}

// rel shows a time as an offset from now, the way the cases are written.
func rel(t time.Time) string {
	switch d := t.Sub(now); {
	case t.IsZero():
		return "zero"
	case d < 0:
		return "now-" + (-d).String()
	default:
		return "now+" + d.String()
	}
}

// unique fails the test when a table names two cases alike (t.Run would
// silently suffix the second one).
func unique(t *testing.T) func(string) {
	seen := map[string]bool{}
	return func(name string) {
		t.Helper()
		if seen[name] {
			t.Fatalf("two cases are named %q", name)
		}
		seen[name] = true
	}
}

type classifierCase struct {
	name   string
	status int
	header http.Header
	body   string
	fam    pool.Family
	want   want
}

func run(t *testing.T, classify failover.Classifier, tests []classifierCase) {
	t.Helper()
	once := unique(t)
	for _, tc := range tests {
		once(tc.name)
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.status, tc.header, []byte(tc.body), tc.fam, now, policy)
			check(t, got, tc.want)
		})
	}
}

// TestCommonRows walks the rows of the failover table (docs/failover.md) that every
// provider shares through each classifier, with no body to read.
func TestCommonRows(t *testing.T) {
	classifiers := []struct {
		name     string
		classify failover.Classifier
	}{
		{"anthropic", anthropic.Classify},
		{"openai", openai.Classify},
		{"gemini", gemini.Classify},
	}
	rows := []struct {
		status int
		want   want
	}{
		{200, pass},
		{201, pass},
		{204, pass},
		{304, pass},
		{400, pass},
		{404, pass},
		{409, pass},
		{413, pass},
		{422, pass},
		{401, unavailable},
		{402, unavailable},
		{403, unavailable},
		{408, timedOut},
		{500, overloaded},
		{502, overloaded},
		{503, overloaded},
		{504, overloaded},
		{529, overloaded},
	}
	once := unique(t)
	for _, c := range classifiers {
		for _, r := range rows {
			name := c.name + "/" + strconv.Itoa(r.status)
			once(name)
			t.Run(name, func(t *testing.T) {
				// A family on the request must not leak into a whole-account verdict.
				got := c.classify(r.status, http.Header{}, nil, "opus", now, policy)
				check(t, got, r.want)
			})
		}
	}
}

func TestClassifyAnthropic(t *testing.T) {
	reset5h := now.Add(3*time.Hour + 17*time.Minute)
	reset7d := now.Add(4*24*time.Hour + 5*time.Hour)
	resetOpus := now.Add(2*24*time.Hour + 9*time.Hour)
	resetOverall := now.Add(5*24*time.Hour + 1*time.Hour)
	const rateLimitBody = `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your account's rate limit. Please try again later."},"request_id":"req_011CVb8tK3xQm2NvY7pLr4Hd"}`
	const usageBody = `{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your usage limit."},"request_id":"req_011CVb8wZ1cUq5TgJ9sEo6Af"}`

	run(t, anthropic.Classify, []classifierCase{
		// Passed through: success and errors any account would answer alike.
		{name: "200_message", status: 200, fam: "sonnet", want: pass,
			header: hdr("content-type", "application/json", "request-id", "req_011CVb8p2"),
			body:   `{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],"model":"claude-sonnet-4-6","stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":4}}`},
		{name: "200_stream_with_unified_allowed", status: 200, fam: "opus", want: pass,
			header: hdr("content-type", "text/event-stream",
				"anthropic-ratelimit-unified-status", "allowed",
				"anthropic-ratelimit-unified-5h-status", "allowed", "anthropic-ratelimit-unified-5h-reset", unix(reset5h))},
		{name: "400_prompt_too_long", status: 400, fam: "sonnet", want: pass,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215734 tokens > 200000 maximum"},"request_id":"req_011CVb9aa"}`},
		{name: "400_oauth_credential_only_for_claude_code", status: 400, fam: "sonnet", want: pass,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"This credential is only authorized for use with Claude Code and cannot be used for other API requests."},"request_id":"req_011CVb9ab"}`},
		{name: "400_invalid_thinking_signature", status: 400, fam: "opus", want: pass,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid ` + "`signature`" + ` in ` + "`thinking`" + ` block"},"request_id":"req_011CVb9ac"}`},
		{name: "400_not_json", status: 400, want: pass,
			header: hdr("content-type", "text/html"),
			body:   `<html><head><title>400 Bad Request</title></head><body>Bad Request</body></html>`},
		{name: "404_model_not_found", status: 404, fam: "opus", want: pass,
			body: `{"type":"error","error":{"type":"not_found_error","message":"model: claude-opus-9"},"request_id":"req_011CVb9ad"}`},
		{name: "413_request_too_large", status: 413, want: pass,
			body: `{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}`},

		// 400s that are the account's fault.
		{name: "400_credit_balance_too_low", status: 400, fam: "sonnet", want: unavailable,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},"request_id":"req_011CVb9ae"}`},
		{name: "400_credit_balance_sentence_case", status: 400, want: unavailable,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"Credit balance is too low to access the Anthropic API."},"request_id":"req_011CVb9ao"}`},
		{name: "400_organization_disabled", status: 400, fam: "opus", want: unavailable,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"This organization has been disabled."},"request_id":"req_011CVb9af"}`},

		// Refused key or account.
		{name: "401_invalid_api_key", status: 401, want: unavailable,
			body: `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CVb9ag"}`},
		{name: "401_oauth_token_expired", status: 401, fam: "opus", want: unavailable,
			body: `{"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired. Please obtain a new token or refresh your existing token."},"request_id":"req_011CVb9ah"}`},
		{name: "402_billing_error", status: 402, want: unavailable,
			body: `{"type":"error","error":{"type":"billing_error","message":"Your account has an outstanding balance."},"request_id":"req_011CVb9ai"}`},
		{name: "403_permission_error", status: 403, want: unavailable,
			body: `{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."},"request_id":"req_011CVb9aj"}`},

		// A failing upstream.
		{name: "408_request_timeout", status: 408, want: timedOut, body: `{"type":"error","error":{"type":"timeout_error","message":"Request timed out"}}`},
		{name: "500_api_error", status: 500, fam: "sonnet", want: overloaded,
			body: `{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"req_011CVb9ak"}`},
		{name: "502_cloudflare_html", status: 502, want: overloaded,
			header: hdr("content-type", "text/html", "server", "cloudflare"),
			body:   `<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>`},
		{name: "529_overloaded_with_retry_after", status: 529, fam: "opus", want: overloaded,
			header: hdr("retry-after", "30"),
			body:   `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CVb9al"}`},

		// 429 that is request-scoped or a spend cap.
		{name: "429_fast_mode_credits_passes", status: 429, fam: "opus", want: pass,
			body: `{"type":"error","error":{"type":"rate_limit_error","message":"Usage credits are required for fast mode. Turn off fast mode or add credits."},"request_id":"req_011CVb9am"}`},
		{name: "429_enforced_spend_limit", status: 429, fam: "sonnet", want: unavailable,
			header: hdr("retry-after", "30"),
			body:   `{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.","details":{"error_code":"enforced_spend_limit_reached"}},"request_id":"req_011CVb9an"}`},

		// Throttles on an API key.
		{name: "429_retry_after_seconds", status: 429, fam: "sonnet", want: throttled(23 * time.Second),
			header: hdr("retry-after", "23"), body: rateLimitBody},
		{name: "429_retry_after_ms_wins_over_retry_after", status: 429, want: throttled(1500 * time.Millisecond),
			header: hdr("retry-after-ms", "1500", "retry-after", "2"), body: rateLimitBody},
		{name: "429_retry_after_http_date", status: 429, want: throttled(44 * time.Second),
			header: hdr("retry-after", now.Add(44*time.Second).Format(http.TimeFormat)), body: rateLimitBody},
		{name: "429_retry_after_zero_floors_at_100ms", status: 429, want: throttled(100 * time.Millisecond),
			header: hdr("retry-after", "0"), body: rateLimitBody},
		{name: "429_retry_after_unreadable_uses_default", status: 429, want: throttled(policy.RateLimitCooldown),
			header: hdr("retry-after", "soon"), body: rateLimitBody},
		{name: "429_retry_after_beats_limit_reset", status: 429, want: throttled(7 * time.Second),
			header: hdr("retry-after", "7",
				"anthropic-ratelimit-tokens-remaining", "0", "anthropic-ratelimit-tokens-reset", now.Add(50*time.Second).Format(time.RFC3339)),
			body: rateLimitBody},
		{name: "429_exhausted_token_limit_reset", status: 429, fam: "sonnet", want: throttled(47 * time.Second),
			header: hdr(
				"anthropic-ratelimit-requests-limit", "4000", "anthropic-ratelimit-requests-remaining", "3987",
				"anthropic-ratelimit-requests-reset", now.Add(3*time.Second).Format(time.RFC3339),
				"anthropic-ratelimit-tokens-limit", "400000", "anthropic-ratelimit-tokens-remaining", "0",
				"anthropic-ratelimit-tokens-reset", now.Add(47*time.Second).Format(time.RFC3339)),
			body: rateLimitBody},
		{name: "429_limit_not_exhausted_is_ignored", status: 429, want: throttled(8 * time.Second),
			header: hdr(
				"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "0",
				"anthropic-ratelimit-requests-reset", now.Add(8*time.Second).Format(time.RFC3339),
				"anthropic-ratelimit-tokens-limit", "400000", "anthropic-ratelimit-tokens-remaining", "212000",
				"anthropic-ratelimit-tokens-reset", now.Add(55*time.Second).Format(time.RFC3339)),
			body: rateLimitBody},
		{name: "429_two_exhausted_limits_wait_for_both", status: 429, want: throttled(33 * time.Second),
			header: hdr(
				"anthropic-ratelimit-input-tokens-remaining", "0",
				"anthropic-ratelimit-input-tokens-reset", now.Add(12*time.Second).Format(time.RFC3339),
				"anthropic-ratelimit-output-tokens-remaining", "0",
				"anthropic-ratelimit-output-tokens-reset", now.Add(33*time.Second).Format(time.RFC3339)),
			body: rateLimitBody},
		{name: "429_limit_reset_in_the_past_uses_default", status: 429, want: throttled(policy.RateLimitCooldown),
			header: hdr(
				"anthropic-ratelimit-requests-remaining", "0",
				"anthropic-ratelimit-requests-reset", now.Add(-5*time.Second).Format(time.RFC3339)),
			body: rateLimitBody},
		{name: "429_no_time_uses_default", status: 429, fam: "opus", want: throttled(policy.RateLimitCooldown), body: rateLimitBody},
		{name: "429_html_body_uses_default", status: 429, want: throttled(policy.RateLimitCooldown),
			header: hdr("content-type", "text/html"),
			body:   `<html><body>Too Many Requests</body></html>`},
		{name: "429_unified_allowed_warning_is_a_throttle", status: 429, fam: "opus", want: throttled(11 * time.Second),
			header: hdr("retry-after", "11",
				"anthropic-ratelimit-unified-status", "allowed_warning",
				"anthropic-ratelimit-unified-5h-status", "allowed_warning", "anthropic-ratelimit-unified-5h-utilization", "0.93",
				"anthropic-ratelimit-unified-5h-reset", unix(reset5h)),
			body: rateLimitBody},
		{name: "429_weekly_claim_without_rejection_is_a_throttle", status: 429, fam: "opus", want: throttled(9 * time.Second),
			header: hdr("retry-after", "9",
				"anthropic-ratelimit-unified-status", "allowed",
				"anthropic-ratelimit-unified-representative-claim", "seven_day_opus"),
			body: rateLimitBody},

		// Subscription windows that cover the whole account.
		{name: "429_unified_5h_rejected", status: 429, fam: "sonnet", want: next(pool.ReasonQuota, pool.FamilyAll, reset5h.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-reset", unix(reset5h),
				"anthropic-ratelimit-unified-representative-claim", "five_hour",
				"anthropic-ratelimit-unified-5h-status", "rejected", "anthropic-ratelimit-unified-5h-utilization", "1.0",
				"anthropic-ratelimit-unified-5h-reset", unix(reset5h),
				"anthropic-ratelimit-unified-7d-status", "allowed", "anthropic-ratelimit-unified-7d-utilization", "0.41",
				"anthropic-ratelimit-unified-7d-reset", unix(reset7d)),
			body: usageBody},
		{name: "429_unified_5h_and_7d_rejected_waits_for_the_later", status: 429, fam: "opus", want: next(pool.ReasonQuota, pool.FamilyAll, reset7d.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-representative-claim", "seven_day",
				"anthropic-ratelimit-unified-5h-status", "rejected", "anthropic-ratelimit-unified-5h-reset", unix(reset5h),
				"anthropic-ratelimit-unified-7d-status", "rejected", "anthropic-ratelimit-unified-7d-reset", unix(reset7d)),
			body: usageBody},
		{name: "429_unified_7d_rejected_in_capitals", status: 429, fam: "opus", want: next(pool.ReasonQuota, pool.FamilyAll, reset7d.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-7d-status", "REJECTED", "anthropic-ratelimit-unified-7d-reset", unix(reset7d)),
			body: usageBody},
		{name: "429_unified_5h_rejected_beats_weekly_model_window", status: 429, fam: "opus", want: next(pool.ReasonQuota, pool.FamilyAll, reset5h.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-representative-claim", "seven_day_opus",
				"anthropic-ratelimit-unified-5h-status", "rejected", "anthropic-ratelimit-unified-5h-reset", unix(reset5h),
				"anthropic-ratelimit-unified-7d_oi-status", "rejected", "anthropic-ratelimit-unified-7d_oi-reset", unix(resetOpus)),
			body: usageBody},
		{name: "429_unified_5h_rejected_without_window_reset_uses_overall", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, resetOverall.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-reset", unix(resetOverall),
				"anthropic-ratelimit-unified-5h-status", "rejected"),
			body: usageBody},
		{name: "429_unified_overall_rejected_only", status: 429, fam: "haiku", want: next(pool.ReasonQuota, pool.FamilyAll, resetOverall.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-reset", unix(resetOverall),
				"anthropic-ratelimit-unified-representative-claim", "five_hour"),
			body: usageBody},
		{name: "429_unified_rejected_ignores_retry_after", status: 429, fam: "sonnet", want: next(pool.ReasonQuota, pool.FamilyAll, reset5h.Add(margin)),
			header: hdr("retry-after", "30",
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-5h-status", "rejected", "anthropic-ratelimit-unified-5h-reset", unix(reset5h)),
			body: usageBody},
		{name: "429_unified_rejected_without_reset_uses_default", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, now.Add(policy.RateLimitCooldown)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-5h-status", "rejected"),
			body: usageBody},
		{name: "429_unified_rejected_reset_in_the_past_uses_default", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, now.Add(policy.RateLimitCooldown)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-5h-status", "rejected", "anthropic-ratelimit-unified-5h-reset", unix(now.Add(-time.Minute))),
			body: usageBody},

		{name: "429_unified_stale_window_reset_uses_overall", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, resetOverall.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-reset", unix(resetOverall),
				"anthropic-ratelimit-unified-5h-status", "rejected", "anthropic-ratelimit-unified-5h-reset", unix(now.Add(-time.Minute))),
			body: usageBody},

		// Weekly per-model windows: only the request's family cools.
		{name: "429_weekly_opus_window_of_its_own", status: 429, fam: "opus", want: next(pool.ReasonQuota, "opus", resetOpus.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "allowed",
				"anthropic-ratelimit-unified-7d_opus-status", "rejected", "anthropic-ratelimit-unified-7d_opus-reset", unix(resetOpus)),
			body: usageBody},
		{name: "429_weekly_opus_cools_opus_only", status: 429, fam: "opus", want: next(pool.ReasonQuota, "opus", resetOpus.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-reset", unix(resetOpus),
				"anthropic-ratelimit-unified-representative-claim", "seven_day_opus",
				"anthropic-ratelimit-unified-5h-status", "allowed", "anthropic-ratelimit-unified-5h-reset", unix(reset5h),
				"anthropic-ratelimit-unified-7d-status", "allowed", "anthropic-ratelimit-unified-7d-reset", unix(reset7d),
				"anthropic-ratelimit-unified-7d_oi-status", "rejected", "anthropic-ratelimit-unified-7d_oi-reset", unix(resetOpus)),
			body: usageBody},
		{name: "429_weekly_sonnet_cools_sonnet_only", status: 429, fam: "sonnet", want: next(pool.ReasonQuota, "sonnet", resetOpus.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-representative-claim", "seven_day_sonnet",
				"anthropic-ratelimit-unified-5h-status", "allowed",
				"anthropic-ratelimit-unified-7d-status", "allowed",
				"anthropic-ratelimit-unified-7d_oi-status", "rejected", "anthropic-ratelimit-unified-7d_oi-reset", unix(resetOpus)),
			body: usageBody},
		{name: "429_weekly_model_claim_without_window_uses_overall_reset", status: 429, fam: "opus", want: next(pool.ReasonQuota, "opus", resetOpus.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-reset", unix(resetOpus),
				"anthropic-ratelimit-unified-representative-claim", "seven_day_opus"),
			body: usageBody},
		{name: "429_weekly_model_window_rejected_with_overall_allowed", status: 429, fam: "opus", want: next(pool.ReasonQuota, "opus", resetOpus.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "allowed",
				"anthropic-ratelimit-unified-7d_oi-status", "rejected", "anthropic-ratelimit-unified-7d_oi-reset", unix(resetOpus)),
			body: usageBody},
		{name: "429_weekly_model_waits_for_later_of_window_and_overall", status: 429, fam: "opus", want: next(pool.ReasonQuota, "opus", resetOverall.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-reset", unix(resetOverall),
				"anthropic-ratelimit-unified-representative-claim", "seven_day_opus",
				"anthropic-ratelimit-unified-7d_oi-status", "rejected", "anthropic-ratelimit-unified-7d_oi-reset", unix(resetOpus)),
			body: usageBody},
		{name: "429_weekly_model_without_reset_uses_default", status: 429, fam: "opus", want: next(pool.ReasonQuota, "opus", now.Add(policy.RateLimitCooldown)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-representative-claim", "seven_day_opus"),
			body: usageBody},
		{name: "429_weekly_model_for_request_without_family_cools_all", status: 429, fam: pool.FamilyAll, want: next(pool.ReasonQuota, pool.FamilyAll, resetOpus.Add(margin)),
			header: hdr(
				"anthropic-ratelimit-unified-status", "rejected",
				"anthropic-ratelimit-unified-representative-claim", "seven_day_opus",
				"anthropic-ratelimit-unified-7d_oi-status", "rejected", "anthropic-ratelimit-unified-7d_oi-reset", unix(resetOpus)),
			body: usageBody},
	})
}

func TestClassifyOpenAI(t *testing.T) {
	resetsAt := now.Add(4*time.Hour + 12*time.Minute)
	const rateLimitBody = `{"error":{"message":"Rate limit reached for gpt-5.4 in organization org-Qx7 on tokens per min (TPM): Limit 30000, Used 29812, Requested 1204. Please try again in 2.032s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`

	run(t, openai.Classify, []classifierCase{
		{name: "200_response", status: 200, fam: "gpt-5.4", want: pass,
			header: hdr("content-type", "text/event-stream",
				"x-codex-primary-used-percent", "100", "x-codex-primary-reset-at", unix(resetsAt))},
		{name: "400_context_length_exceeded", status: 400, fam: "gpt-5.4", want: pass,
			body: `{"error":{"message":"Your input exceeds the context window of this model. Please adjust your input and try again.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}`},
		{name: "400_looks_like_anthropic_credit_is_not_read", status: 400, want: pass,
			body: `{"error":{"message":"Your credit balance is too low","type":"invalid_request_error","param":null,"code":null}}`},
		{name: "404_model_not_found", status: 404, want: pass,
			body: `{"error":{"message":"The model 'gpt-9' does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`},
		{name: "401_invalid_api_key", status: 401, want: unavailable,
			body: `{"error":{"message":"Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`},
		{name: "401_chatgpt_token_expired", status: 401, fam: "gpt-5.4", want: unavailable,
			body: `{"error":{"message":"Provided authentication token is expired. Please try signing in again.","type":null,"code":"token_expired","param":null},"status":401}`},
		{name: "403_unsupported_country", status: 403, want: unavailable,
			body: `{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or territory not supported","param":null,"type":"request_forbidden"}}`},
		{name: "500_server_error", status: 500, want: overloaded,
			body: `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`},
		{name: "503_slow_down", status: 503, want: overloaded,
			header: hdr("retry-after", "20"),
			body:   `{"error":{"message":"Slow Down: the engine is currently overloaded, please try again later.","type":"server_error","param":null,"code":null}}`},

		// The ChatGPT plan's usage limit: the whole account until the reset.
		{name: "429_usage_limit_resets_at", status: 429, fam: "gpt-5.4", want: next(pool.ReasonQuota, pool.FamilyAll, resetsAt.Add(margin)),
			body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":` + unix(resetsAt) + `}}`},
		{name: "429_usage_limit_resets_in_seconds", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, now.Add(8123*time.Second+margin)),
			body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"pro","resets_in_seconds":8123}}`},
		{name: "429_usage_limit_resets_at_wins_over_resets_in", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, resetsAt.Add(margin)),
			body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":` + unix(resetsAt) + `,"resets_in_seconds":60}}`},
		{name: "429_usage_limit_as_code", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, now.Add(300*time.Second+margin)),
			body: `{"error":{"type":"invalid_request_error","code":"usage_limit_reached","message":"You've hit your usage limit.","resets_in_seconds":300}}`},
		{name: "429_usage_limit_ignores_retry_after", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, resetsAt.Add(margin)),
			header: hdr("retry-after", "5"),
			body:   `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_at":` + unix(resetsAt) + `}}`},
		{name: "429_usage_limit_reset_from_spent_window_header", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, resetsAt.Add(margin)),
			header: hdr("x-codex-primary-used-percent", "100", "x-codex-primary-window-minutes", "300", "x-codex-primary-reset-at", unix(resetsAt),
				"x-codex-secondary-used-percent", "40", "x-codex-secondary-window-minutes", "10080", "x-codex-secondary-reset-at", unix(now.Add(72*time.Hour))),
			body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus"}}`},
		{name: "429_usage_limit_without_reset_uses_default", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, now.Add(policy.RateLimitCooldown)),
			body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus"}}`},
		{name: "429_usage_limit_reset_in_the_past_uses_default", status: 429, want: next(pool.ReasonQuota, pool.FamilyAll, now.Add(policy.RateLimitCooldown)),
			body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_at":` + unix(now.Add(-time.Hour)) + `}}`},

		// An API balance that is spent.
		{name: "429_insufficient_quota", status: 429, fam: "gpt-5.4", want: unavailable,
			body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`},
		{name: "429_insufficient_quota_as_type_only", status: 429, want: unavailable,
			header: hdr("retry-after", "3"),
			body:   `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":null}}`},

		// Throttles.
		{name: "429_rate_limit_retry_after", status: 429, fam: "gpt-5.4", want: throttled(17 * time.Second),
			header: hdr("retry-after", "17"), body: rateLimitBody},
		{name: "429_rate_limit_retry_after_ms", status: 429, want: throttled(2032 * time.Millisecond),
			header: hdr("retry-after-ms", "2032"), body: rateLimitBody},
		{name: "429_retry_after_beats_ratelimit_reset", status: 429, want: throttled(4 * time.Second),
			header: hdr("retry-after", "4",
				"x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "6m0s"), body: rateLimitBody},
		{name: "429_ratelimit_reset_tokens", status: 429, want: throttled(90*time.Second + 951*time.Millisecond),
			header: hdr(
				"x-ratelimit-limit-tokens", "30000", "x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "1m30.951s"),
			body: rateLimitBody},
		{name: "429_ratelimit_reset_requests_and_tokens_waits_for_both", status: 429, want: throttled(7660 * time.Millisecond),
			header: hdr(
				"x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "20ms",
				"x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "7.66s"),
			body: rateLimitBody},
		{name: "429_ratelimit_reset_unreadable_uses_default", status: 429, want: throttled(policy.RateLimitCooldown),
			header: hdr(
				"x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "soon"),
			body: rateLimitBody},
		{name: "429_rate_limit_no_time_uses_default", status: 429, want: throttled(policy.RateLimitCooldown), body: rateLimitBody},
		{name: "429_numeric_code_uses_default", status: 429, want: throttled(policy.RateLimitCooldown),
			body: `{"error":{"message":"Too Many Requests","type":"requests","param":null,"code":429}}`},
		{name: "429_not_json_uses_default", status: 429, want: throttled(policy.RateLimitCooldown),
			header: hdr("content-type", "text/html"),
			body:   `<html><body><h1>429 Too Many Requests</h1></body></html>`},
	})
}

func TestClassifyGemini(t *testing.T) {
	const fam, flash = pool.Family("gemini-2.5-pro"), pool.Family("gemini-2.5-flash")
	// Google counts quotas per model: a 429 cools the request's model only.
	limited := func(f pool.Family, d time.Duration) want { return next(pool.ReasonRateLimited, f, now.Add(d)) }
	spent := func(f pool.Family, d time.Duration) want { return next(pool.ReasonQuota, f, now.Add(d)) }
	const perMinuteBody = `{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 5, model: gemini-2.5-pro\nPlease retry in 17.639005839s.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-pro"},"quotaValue":"5"}]},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}`
	dailyBody := func(retryDelay string) string {
		return `{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 100, model: gemini-2.5-pro","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-pro"},"quotaValue":"100"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"` + retryDelay + `"}]}}`
	}
	const codeAssistQuotaBody = `{"error":{"code":429,"message":"You have exhausted your capacity on this model. Your quota will reset after 3h25m12s.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED","domain":"cloudcode-pa.googleapis.com","metadata":{"uiMessage":"true","model":"gemini-2.5-pro"}},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12312.5s"}]}}`

	run(t, gemini.Classify, []classifierCase{
		{name: "200_generate_content", status: 200, fam: fam, want: pass,
			body: `{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4},"modelVersion":"gemini-2.5-pro"}`},
		{name: "400_invalid_argument", status: 400, fam: fam, want: pass,
			body: `{"error":{"code":400,"message":"* GenerateContentRequest.contents: contents is not specified\n","status":"INVALID_ARGUMENT"}}`},
		{name: "400_user_location_not_supported", status: 400, want: pass,
			body: `{"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}}`},
		{name: "404_model_not_found", status: 404, want: pass,
			body: `{"error":{"code":404,"message":"models/gemini-9-pro is not found for API version v1beta, or is not supported for generateContent.","status":"NOT_FOUND"}}`},
		{name: "400_api_key_invalid", status: 400, fam: fam, want: unavailable,
			body: `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}},{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key not valid. Please pass a valid API key."}]}}`},
		{name: "401_unauthenticated", status: 401, fam: fam, want: unavailable,
			body: `{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","status":"UNAUTHENTICATED"}}`},
		{name: "403_permission_denied", status: 403, want: unavailable,
			body: `{"error":{"code":403,"message":"Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.","status":"PERMISSION_DENIED"}}`},
		{name: "500_internal", status: 500, fam: fam, want: overloaded,
			body: `{"error":{"code":500,"message":"An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting","status":"INTERNAL"}}`},
		{name: "503_model_overloaded", status: 503, fam: fam, want: overloaded,
			body: `{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`},

		// 429: every kind cools the request's model only.
		{name: "429_per_minute_retry_delay", status: 429, fam: fam, want: limited(fam, 17*time.Second), body: perMinuteBody},
		{name: "429_per_minute_fractional_retry_delay", status: 429, fam: flash, want: limited(flash, 847655010*time.Nanosecond),
			body: `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"cloudcode-pa.googleapis.com","metadata":{"model":"gemini-2.5-flash"}},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.847655010s"}]}}`},
		{name: "429_retry_delay_wins_over_retry_after", status: 429, fam: fam, want: limited(fam, 17*time.Second),
			header: hdr("retry-after", "60"), body: perMinuteBody},
		{name: "429_model_capacity_exhausted", status: 429, fam: fam, want: limited(fam, 9*time.Second),
			body: `{"error":{"code":429,"message":"No capacity available for model gemini-2.5-pro on the server","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"MODEL_CAPACITY_EXHAUSTED","domain":"cloudcode-pa.googleapis.com","metadata":{"model":"gemini-2.5-pro"}},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"9s"}]}}`},
		{name: "429_no_retry_info_uses_retry_after", status: 429, fam: fam, want: limited(fam, 21*time.Second),
			header: hdr("retry-after", "21"),
			body:   `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`},
		{name: "429_no_time_uses_default", status: 429, fam: fam, want: limited(fam, policy.RateLimitCooldown),
			body: `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`},
		{name: "429_not_json_uses_default", status: 429, fam: fam, want: limited(fam, policy.RateLimitCooldown),
			header: hdr("content-type", "text/html"),
			body:   `<html><body>Too Many Requests</body></html>`},
		{name: "429_daily_quota_short_delay_uses_unavailable", status: 429, fam: fam, want: spent(fam, policy.UnavailableCooldown), body: dailyBody("43s")},
		{name: "429_daily_quota_long_delay", status: 429, fam: fam, want: spent(fam, 10*time.Hour), body: dailyBody("36000s")},
		{name: "429_quota_exhausted_retry_delay", status: 429, fam: fam, want: spent(fam, 12312500*time.Millisecond+margin), body: codeAssistQuotaBody},
		{name: "429_quota_exhausted_without_delay_uses_unavailable", status: 429, fam: fam, want: spent(fam, policy.UnavailableCooldown),
			header: hdr("retry-after", "30"),
			body:   `{"error":{"code":429,"message":"Quota exceeded for quota metric 'Generate Content API requests per day'.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED","domain":"cloudcode-pa.googleapis.com"}]}}`},
		{name: "429_quota_exhausted_on_flash_cools_flash", status: 429, fam: flash, want: spent(flash, 12312500*time.Millisecond+margin), body: codeAssistQuotaBody},
	})
}

func TestTransportErrorAndTimeout(t *testing.T) {
	tests := []struct {
		name string
		got  failover.Verdict
		why  string
		want want
	}{
		{"transport_connection_refused",
			failover.TransportError(now, policy, "dial tcp 127.0.0.1:443: connect: connection refused"),
			"dial tcp 127.0.0.1:443: connect: connection refused",
			next(pool.ReasonConnection, pool.FamilyAll, now.Add(policy.OverloadCooldown))},
		{"transport_tls_failure",
			failover.TransportError(now, policy, "tls: failed to verify certificate: x509: certificate signed by unknown authority"),
			"tls: failed to verify certificate: x509: certificate signed by unknown authority",
			next(pool.ReasonConnection, pool.FamilyAll, now.Add(policy.OverloadCooldown))},
		{"timeout_response_headers",
			failover.Timeout(now, policy, "no response headers within 60s"),
			"no response headers within 60s",
			next(pool.ReasonTimeout, pool.FamilyAll, now.Add(policy.OverloadCooldown))},
	}
	once := unique(t)
	for _, tc := range tests {
		once(tc.name)
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.got, tc.want)
			if tc.got.Why != tc.why {
				t.Errorf("Why = %q, want %q", tc.got.Why, tc.why)
			}
		})
	}
}

// A cooldown taken from a reset time ends at that time plus the margin and
// a jitter that differs from one cooldown to the next.
func TestQuotaCooldownEndsAtTheReset(t *testing.T) {
	reset := now.Add(37 * time.Minute)
	h := hdr("anthropic-ratelimit-unified-status", "rejected",
		"anthropic-ratelimit-unified-5h-status", "rejected", "anthropic-ratelimit-unified-5h-reset", unix(reset))
	seen := map[time.Time]bool{}
	for range 64 {
		v := anthropic.Classify(429, h, []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"limit"}}`), "opus", now, policy)
		if v.Reason != pool.ReasonQuota {
			t.Fatalf("Reason = %q, want quota", v.Reason)
		}
		if v.Until.Before(reset.Add(margin)) || !v.Until.Before(reset.Add(margin+jitter)) {
			t.Fatalf("Until = %s, want within [reset+%s, reset+%s)", rel(v.Until), margin, margin+jitter)
		}
		seen[v.Until] = true
	}
	if len(seen) < 2 {
		t.Errorf("64 cooldowns all ended at %v: no jitter", seen)
	}
}
