package anthropic

import (
	"net/http"
	"testing"
	"time"

	"keypool/relay/pool"
)

func TestReadOverage(t *testing.T) {
	const p = "Anthropic-Ratelimit-Unified-"
	tests := []struct {
		name   string
		h      map[string]string
		want   pool.Overage
		wantOK bool
	}{
		{"no_family", map[string]string{"Content-Type": "application/json"}, pool.Overage{}, false},
		{"within_plan", map[string]string{p + "Status": "allowed", p + "Representative-Claim": "five_hour", p + "Reset": "1800000000"},
			pool.Overage{Until: time.Unix(1800000000, 0)}, true},
		{"in_use", map[string]string{p + "Status": "allowed", p + "Representative-Claim": "overage", p + "Overage-In-Use": "true",
			p + "Overage-Status": "allowed", p + "Overage-Utilization": "0.12", p + "Overage-Reset": "1802000000", p + "Reset": "1800000000"},
			pool.Overage{InUse: true, Status: "allowed", Utilization: 0.12, Until: time.Unix(1800000000, 0)}, true},
		{"claim_only", map[string]string{p + "Status": "allowed", p + "Representative-Claim": "overage", p + "Overage-Status": "allowed_warning", p + "Overage-Reset": "1802000000"},
			pool.Overage{InUse: true, Status: "allowed_warning", Until: time.Unix(1802000000, 0)}, true},
		{"rejected_served_from_overage", map[string]string{p + "Status": "rejected", p + "Overage-Status": "allowed", p + "Reset": "1800000000"},
			pool.Overage{InUse: true, Status: "allowed", Until: time.Unix(1800000000, 0)}, true},
		{"included_credit", map[string]string{p + "Status": "allowed", p + "Representative-Claim": "seven_day_overage_included", p + "Overage-Status": "allowed"},
			pool.Overage{Status: "allowed"}, true},
		{"closed", map[string]string{p + "Status": "rejected", p + "Overage-Status": "rejected", p + "Overage-Disabled-Reason": "out_of_credits", p + "Reset": "1800000000"},
			pool.Overage{Status: "rejected", DisabledReason: "out_of_credits", Until: time.Unix(1800000000, 0)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.h {
				h.Set(k, v)
			}
			got, ok := ReadOverage(h)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestOverageText(t *testing.T) {
	now := time.Date(2026, 12, 7, 14, 5, 0, 0, time.UTC)
	tests := []struct {
		o    *pool.Overage
		want string
	}{
		{nil, ""},
		{&pool.Overage{Until: now.Add(time.Hour)}, ""},
		{&pool.Overage{InUse: true, Until: now.Add(-time.Minute)}, ""},
		{&pool.Overage{InUse: true, Until: now.Add(time.Hour)}, "on extra usage (paid) until 15:05"},
		{&pool.Overage{InUse: true, Until: now.Add(24 * time.Hour)}, "on extra usage (paid) until Tue 14:05"},
	}
	for _, tt := range tests {
		if got := tt.o.Text(now, time.UTC); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.o, got, tt.want)
		}
	}
}
