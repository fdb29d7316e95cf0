package relay_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// priced makes every answer cost usd.
func priced(usd float64) func(*relay.Config) {
	return func(c *relay.Config) {
		c.Cost = func(string, relay.Usage, time.Time) (float64, bool) { return usd, true }
	}
}

func both(mods ...func(*relay.Config)) func(*relay.Config) {
	return func(c *relay.Config) {
		for _, m := range mods {
			m(c)
		}
	}
}

// When a protocol's plans are spent and an API key takes over, the paid
// answers form one episode, shown in /health with what it cost since it
// began; it ends when a plan can serve again, and the next one is new.
func TestPaidEpisode(t *testing.T) {
	h := newHarness(t, []acct{{id: "sub", prio: 100}, {id: "key", prio: 50}}, both(claudePlans([]string{"key"}), priced(0.21)))
	start := h.clock.Now()
	reset := start.Add(time.Hour)
	h.ups["sub"].Default = spentReply(reset)
	if got := h.postAndWho(simple, nil); got != "key" {
		t.Fatalf("served by %q, want key", got)
	}
	h.clock.Add(time.Minute)
	if got := h.postAndWho(body("claude-sonnet-4-5", "two"), nil); got != "key" {
		t.Fatalf("served by %q, want key", got)
	}
	paying := h.health().Paying
	if len(paying) != 1 {
		t.Fatalf("paying = %+v, want one episode", paying)
	}
	ep := paying[0]
	if ep.Protocol != pool.ProtocolAnthropic || ep.Plans != "Claude" || ep.Account != "key" || !ep.Since.Equal(start) ||
		ep.SpentUSD < 0.419 || ep.SpentUSD > 0.421 || ep.Until.Before(reset) || ep.Until.After(reset.Add(11*time.Second)) {
		t.Errorf("episode = %+v, want Claude paid by key since %v, $0.42, until about %v", ep, start, reset)
	}
	if txt := ep.Text(time.UTC); !strings.HasPrefix(txt, "Claude plans are spent until 13:00 — now paying with key; $0.42 since 12:00") {
		t.Errorf("text = %q", txt)
	}
	recs := h.sink.all()
	if !recs[len(recs)-1].Paid {
		t.Errorf("the key's record is not marked paid: %+v", recs[len(recs)-1])
	}

	// The plan is back: the episode is over.
	h.clock.Add(time.Hour)
	h.ups["sub"].Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "plan", 5, 5), Header: planHeaders(reset.Add(5 * time.Hour))}
	if p := h.health().Paying; len(p) != 0 {
		t.Errorf("with the plan back, paying = %+v, want none", p)
	}
	if got := h.postAndWho(body("claude-sonnet-4-5", "three"), nil); got != "sub" {
		t.Fatalf("served by %q, want sub", got)
	}
	if recs := h.sink.all(); recs[len(recs)-1].Paid {
		t.Error("a plan's answer is marked paid")
	}
	// Spent again: a new episode.
	h.ups["sub"].Default = spentReply(h.clock.Now().Add(time.Hour))
	h.postAndWho(body("claude-sonnet-4-5", "four"), nil)
	if p := h.health().Paying; len(p) != 1 || !p[0].Since.Equal(h.clock.Now()) || p[0].SpentUSD > 0.22 {
		t.Errorf("second episode = %+v, want a new one since now", p)
	}
}

// A pool of API keys alone has no plans to run out: paying is its normal
// state, not an episode.
func TestNoPaidEpisodeWithoutPlans(t *testing.T) {
	h := newHarness(t, []acct{{id: "key", prio: 1}}, priced(0.1))
	h.postAndWho(simple, nil)
	if p := h.health().Paying; len(p) != 0 {
		t.Errorf("paying = %+v, want none", p)
	}
}

// Past [spend] paid_daily_usd, paid answers are refused in the client's
// own format until midnight while plans still serve; the OpenAI SDK sees
// an OpenAI error.
func TestPaidDailyCap(t *testing.T) {
	h := newHarness(t, []acct{{id: "sub", prio: 100}, {id: "key", prio: 50}}, both(claudePlans([]string{"key"}), priced(0.21),
		func(c *relay.Config) { c.PaidDailyUSD = 0.40 }))
	h.ups["sub"].Default = spentReply(h.clock.Now().Add(3 * time.Hour))
	for i := range 2 {
		if got := h.postAndWho(body("claude-sonnet-4-5", "paid"), nil); got != "key" {
			t.Fatalf("paid answer %d served by %q, want key", i+1, got)
		}
	}
	resp, b := h.post(body("claude-sonnet-4-5", "over"), nil)
	if resp.StatusCode != 429 || errorType(t, b) != "rate_limit_error" || !strings.Contains(b, "paid_daily_usd = $0.40") ||
		!strings.Contains(b, "$0.42 paid today") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("past the cap: %d %s", resp.StatusCode, b)
	}
	if n := h.ups["key"].Count(); n != 2 {
		t.Errorf("the key got %d requests, want 2 (none past the cap)", n)
	}
	if c := h.health().PaidCap; c == nil || !c.Reached || c.DailyUSD != 0.40 {
		t.Errorf("paid cap in /health = %+v, want reached", c)
	}

	// The Responses route: an OpenAI key past the cap, through the SDK.
	up := relaytest.New()
	defer up.Close()
	h.srv.SetAccounts([]pool.Account{{ID: "oai", Name: "oai", Kind: pool.KindOpenAIResponses, Enabled: true, APIURL: up.URL}})
	client := openai.NewClient(option.WithBaseURL(h.http.URL+"/openai/v1"), option.WithAPIKey("local-key"), option.WithMaxRetries(0))
	_, err := client.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-5", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || !strings.Contains(apiErr.Message, "paid_daily_usd") || up.Count() != 0 {
		t.Errorf("OpenAI SDK past the cap: %v (upstream asked %d times)", err, up.Count())
	}

	// Midnight: paid answers serve again.
	h.clock.Add(12 * time.Hour)
	up.Default = relaytest.Reply{Body: relaytest.Response("gpt-5", "hi", 5, 0, 5)}
	if _, err := client.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-5", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}); err != nil {
		t.Errorf("the next day: %v", err)
	}
}
