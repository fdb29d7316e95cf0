package relay_test

import (
	"net/http"
	"strings"
	"testing"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// Regressions from review of the multi-protocol relay.

// The client's key never goes upstream, in whichever header it came.
func TestClientKeyHeadersNeverForwarded(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	h.post(simple, map[string]string{"x-api-key": "", "x-goog-api-key": "local-key", "OpenAI-Organization": "org-client"})
	up := h.ups["a"].Requests()[0]
	for _, k := range []string{"X-Goog-Api-Key", "Openai-Organization"} {
		if v := up.Header.Get(k); v != "" {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
}

// A Gemini quota on one model leaves the account serving others.
func TestGeminiQuotaIsPerModel(t *testing.T) {
	h := geminiHarness(t)
	h.ups["g1"].Push(relaytest.Reply{Status: 429, Body: relaytest.GoogleError(429, "RESOURCE_EXHAUSTED", "quota",
		map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []any{map[string]any{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}}},
		map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"})})
	key := map[string]string{"x-api-key": "", "x-goog-api-key": "local-key"}
	body := `{"contents":[{"role":"user","parts":[{"text":"q"}]}]}`
	h.do("POST", "/gemini/v1beta/models/gemini-3.5-pro:generateContent", body, key)
	other := `{"contents":[{"role":"user","parts":[{"text":"another conversation"}]}]}`
	if resp, _ := h.do("POST", "/gemini/v1beta/models/gemini-3.5-flash:generateContent", other, key); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	if got := h.ups["g1"].Requests(); len(got) != 2 || !strings.Contains(got[1].Path, "gemini-3.5-flash") {
		t.Errorf("flash did not go to g1: %d requests", len(got))
	}
	a := h.account("g1")
	if len(a.Cooldowns) != 1 || a.Cooldowns[0].Family != "gemini-3.5-pro" || a.Cooldowns[0].Until.Sub(h.clock.Now()).Hours() < 1 {
		t.Errorf("cooldowns = %+v, want gemini-3.5-pro for at least an hour", a.Cooldowns)
	}
}

// A Code Assist event whose JSON spans several data lines is unwrapped whole.
func TestCodeAssistMultilineData(t *testing.T) {
	h := newHarness(t, []acct{{id: "google", prio: 1}}, nil)
	h.srv.SetAccounts([]pool.Account{{ID: "google", Kind: pool.KindGemini, Enabled: true, APIURL: h.ups["google"].URL, Project: "p"}})
	h.ups["google"].Push(relaytest.Reply{Events: []string{"data: {\"response\":\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}]}}"}})
	_, b := h.do("POST", "/gemini/v1beta/models/gemini-3.5-pro:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"q"}]}]}`,
		map[string]string{"x-api-key": "", "x-goog-api-key": "local-key"})
	if want := "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}]}\n\n"; b != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

// In a mixed pool, a chat request for a non-Claude model goes to the
// OpenAI-compatible account, not to Claude by conversion.
func TestChatMixedPool(t *testing.T) {
	h := newHarness(t, []acct{{id: "claude", prio: 100}, {id: "compat", prio: 50}}, nil)
	h.srv.SetAccounts([]pool.Account{
		{ID: "claude", Kind: pool.KindClaudeAPI, Priority: 100, Enabled: true, APIURL: h.ups["claude"].URL},
		{ID: "compat", Kind: pool.KindOpenAICompatible, Priority: 50, Enabled: true, APIURL: h.ups["compat"].URL},
	})
	h.ups["compat"].Push(relaytest.Reply{Body: `{"id":"x","object":"chat.completion","choices":[]}`})
	if resp, _ := h.do("POST", "/openai/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	h.do("POST", "/openai/v1/chat/completions", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"another chat"}]}`, nil)
	if c := h.counts(); c["claude"] != 1 || c["compat"] != 1 {
		t.Errorf("counts = %v, want one each", c)
	}
}

// A second "model" key in another case cannot slip past model rules.
func TestAmbiguousModelKey(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) {
		c.ClientModels = map[string][]string{guardKeyID("local-key"): {"claude-haiku-*"}}
	})
	resp, b := h.post(`{"model":"claude-opus-4-1","MODEL":"claude-haiku-4-5","max_tokens":1,"messages":[{"role":"user","content":"x"}]}`, nil)
	if resp.StatusCode != http.StatusBadRequest || h.ups["a"].Count() != 0 {
		t.Errorf("ambiguous body: %d %s, upstream calls %d", resp.StatusCode, b, h.ups["a"].Count())
	}
}

// A ChatGPT plan limit reported as a stream's opening moves the request to
// another account at once, and rests the plan so the conversation's next
// turn goes there too.
func TestUsageLimitInsideStream(t *testing.T) {
	h := responsesHarness(t)
	failed := `event: response.failed` + "\n" + `data: {"type":"response.failed","response":{"id":"r","status":"failed","model":"gpt-5.4","error":{"code":"usage_limit_reached","message":"limit"}}}`
	h.ups["chatgpt"].Push(relaytest.Reply{Events: []string{failed}})
	hdr := map[string]string{"session-id": "conv-1"}
	h.do("POST", "/openai/v1/responses", `{"model":"gpt-5.4","input":"hi","stream":true}`, hdr)
	if resp, _ := h.do("POST", "/openai/v1/responses", `{"model":"gpt-5.4","input":"again","stream":true}`, hdr); resp.StatusCode != 200 || h.ups["apikey"].Count() != 2 || h.ups["chatgpt"].Count() != 1 {
		t.Errorf("next turn: %d, api key used %d, plan used %d; want 200, 2 (both turns), 1", resp.StatusCode, h.ups["apikey"].Count(), h.ups["chatgpt"].Count())
	}
}
