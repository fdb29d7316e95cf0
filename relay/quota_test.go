package relay

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"keypool/relay/pool"
)

func TestPlanQuota(t *testing.T) {
	tests := []struct {
		name string
		kind pool.Kind
		h    map[string]string
		want []pool.Quota
	}{
		{"none", pool.KindClaudeAPI, map[string]string{"Content-Type": "application/json"}, nil},
		{"anthropic_unified", pool.KindClaudeOAuth, map[string]string{
			"Anthropic-Ratelimit-Unified-Status":         "allowed_warning",
			"Anthropic-Ratelimit-Unified-5h-Utilization": "0.42", "Anthropic-Ratelimit-Unified-5h-Reset": "1764172800", "Anthropic-Ratelimit-Unified-5h-Status": "allowed",
			"Anthropic-Ratelimit-Unified-7d-Utilization": "0.91", "Anthropic-Ratelimit-Unified-7d-Reset": "1764547200", "Anthropic-Ratelimit-Unified-7d-Status": "allowed_warning",
		}, []pool.Quota{
			{Window: "5h", Utilization: 0.42, ResetsAt: time.Unix(1764172800, 0), Status: "allowed"},
			{Window: "7d", Utilization: 0.91, ResetsAt: time.Unix(1764547200, 0), Status: "allowed_warning"},
		}},
		{"anthropic_spent", pool.KindClaudeOAuth, map[string]string{
			// Past 100% of a window it rejects: a fraction, not a percentage.
			"Anthropic-Ratelimit-Unified-Status":         "rejected",
			"Anthropic-Ratelimit-Unified-5h-Utilization": "1.02", "Anthropic-Ratelimit-Unified-5h-Status": "rejected",
		}, []pool.Quota{{Window: "5h", Utilization: 1.02, Status: "rejected"}}},
		{"mirror_percent", pool.KindClaudeOAuth, map[string]string{
			"Anthropic-Ratelimit-Unified-Status":         "allowed",
			"Anthropic-Ratelimit-Unified-5h-Utilization": "42", "Anthropic-Ratelimit-Unified-5h-Status": "allowed",
			"Anthropic-Ratelimit-Unified-7d-Utilization": "1.5",
		}, []pool.Quota{{Window: "5h", Utilization: 0.42, Status: "allowed"}, {Window: "7d", Utilization: 0.015}}},
		{"codex", pool.KindCodexOAuth, map[string]string{
			"X-Codex-Primary-Used-Percent": "37.5", "X-Codex-Primary-Window-Minutes": "300", "X-Codex-Primary-Reset-At": "1764172800",
			"X-Codex-Secondary-Used-Percent": "12", "X-Codex-Secondary-Window-Minutes": "10080",
		}, []pool.Quota{
			{Window: "5h", Utilization: 0.375, ResetsAt: time.Unix(1764172800, 0)},
			{Window: "7d", Utilization: 0.12},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.h {
				h.Set(k, v)
			}
			if got := planQuota(providerOf(tt.kind), h); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Cost and plan quota appear in /metrics.
func TestCostAndQuotaMetrics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Anthropic-Ratelimit-Unified-Status", "allowed")
		w.Header().Set("Anthropic-Ratelimit-Unified-7d-Utilization", "0.25")
		w.Write([]byte(`{"model":"claude-sonnet-4-5","usage":{"input_tokens":100,"output_tokens":10}}`))
	}))
	defer up.Close()
	s, err := New(Config{Accounts: []pool.Account{{ID: "a", Kind: pool.KindClaudeAPI, Enabled: true, APIURL: up.URL}},
		Credentials: staticCreds{}, Cost: func(string, Usage, time.Time) (float64, bool) { return 0.5, true }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/messages", "application/json", strings.NewReader(`{"model":"claude-sonnet-4-5","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The record is counted just after the answer: poll, bounded.
	var b []byte
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		resp, _ = http.Get(srv.URL + "/metrics")
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "keypool_cost_usd_total") {
			break
		}
	}
	for _, want := range []string{`keypool_cost_usd_total{account="a"} 0.5`, `keypool_quota_utilization{account="a",window="7d"} 0.25`, "keypool_accounts_cooling 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

type staticCreds struct{}

func (staticCreds) Credential(context.Context, string) (Credential, error) {
	return Credential{APIKey: "k"}, nil
}
