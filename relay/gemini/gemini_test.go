package gemini

import (
	"testing"

	"keypool/relay/pool"
)

func TestResponseUsage(t *testing.T) {
	chunk := func(out int) string {
		return `{"candidates":[{"content":{"parts":[{"text":"x"}]}}],"usageMetadata":{"promptTokenCount":50,"cachedContentTokenCount":20,"candidatesTokenCount":` +
			string(rune('0'+out)) + `},"modelVersion":"gemini-3.5-flash"}`
	}
	usage := func(out int64) pool.Usage {
		return pool.Usage{InputTokens: 30, CacheReadTokens: 20, OutputTokens: out, RawInputTokens: 50}
	}
	tests := []struct {
		name string
		body string
		want pool.Usage
		ok   bool
	}{
		{"one answer", chunk(3), usage(3), true},
		{"array", "[" + chunk(1) + ",\r\n" + chunk(2) + ",\r\n" + chunk(3) + "]", usage(3), true},
		{"array cut off", "[" + chunk(1) + ",\r\n" + chunk(2) + ",\r\n" + chunk(3)[:40], usage(2), true},
		{"empty array", "[]", pool.Usage{}, false},
		{"garbage", "[{", pool.Usage{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model, u, ok := ResponseUsage([]byte(tt.body))
			if ok != tt.ok || u != tt.want || ok && model != "gemini-3.5-flash" {
				t.Errorf("ResponseUsage = %q %+v %v, want %+v %v", model, u, ok, tt.want, tt.ok)
			}
		})
	}
}
