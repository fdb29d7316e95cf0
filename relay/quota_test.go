package relay

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"keypool/relay/pool"
)

func TestReadQuota(t *testing.T) {
	tests := []struct {
		name string
		h    map[string]string
		want []pool.Quota
	}{
		{"none", map[string]string{"Content-Type": "application/json"}, nil},
		{"anthropic_unified", map[string]string{
			"Anthropic-Ratelimit-Unified-Status":         "allowed_warning",
			"Anthropic-Ratelimit-Unified-5h-Utilization": "0.42", "Anthropic-Ratelimit-Unified-5h-Reset": "1764172800", "Anthropic-Ratelimit-Unified-5h-Status": "allowed",
			"Anthropic-Ratelimit-Unified-7d-Utilization": "0.91", "Anthropic-Ratelimit-Unified-7d-Reset": "1764547200", "Anthropic-Ratelimit-Unified-7d-Status": "allowed_warning",
		}, []pool.Quota{
			{Window: "5h", Utilization: 0.42, ResetsAt: time.Unix(1764172800, 0), Status: "allowed"},
			{Window: "7d", Utilization: 0.91, ResetsAt: time.Unix(1764547200, 0), Status: "allowed_warning"},
		}},
		{"codex", map[string]string{
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
			if got := readQuota(h); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
