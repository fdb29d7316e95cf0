package prices

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keypool/internal/dirtest"
	"keypool/relay/pool"
)

// Costs against hand-computed figures (PROTOCOLS.md §7 prices, USD per
// million tokens).
func TestCost(t *testing.T) {
	tab := Bundled()
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		model string
		u     pool.Usage
		want  float64
	}{
		// Sonnet 4.5: 3 in, 15 out, 0.3 cache read, 3.75 cache write.
		{"claude_uncached", "claude-sonnet-4-5", pool.Usage{InputTokens: 10_000, OutputTokens: 2_000}, 10_000*3e-6 + 2_000*15e-6},
		{"claude_cached", "claude-sonnet-4-5", pool.Usage{InputTokens: 1_000, OutputTokens: 500, CacheReadTokens: 50_000, CacheWriteTokens: 4_000},
			1_000*3e-6 + 500*15e-6 + 50_000*0.3e-6 + 4_000*3.75e-6},
		// Haiku 4.5: 1 in, 5 out, 0.1 read.
		{"haiku", "claude-haiku-4-5", pool.Usage{InputTokens: 1_000_000, OutputTokens: 100_000, CacheReadTokens: 1_000_000}, 1 + 0.5 + 0.1},
		// gpt-5: 1.25 in, 10 out, 0.125 cached.
		{"gpt5_cached", "gpt-5", pool.Usage{InputTokens: 60_000, CacheReadTokens: 40_000, OutputTokens: 7_000}, 60_000*1.25e-6 + 40_000*0.125e-6 + 7_000*10e-6},
		// gemini-2.5-flash: 0.3 in, 2.5 out, 0.03 cached.
		{"gemini_flash", "gemini-2.5-flash", pool.Usage{InputTokens: 100_000, OutputTokens: 10_000, CacheReadTokens: 20_000}, 100_000*0.3e-6 + 10_000*2.5e-6 + 20_000*0.03e-6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tab.Cost(tt.model, tt.u, now)
			if !ok || math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Cost(%s) = %.9f, %v; want %.9f, true", tt.model, got, ok, tt.want)
			}
		})
	}
	if got, ok := tab.Cost("no-such-model", pool.Usage{InputTokens: 1}, now); ok {
		t.Errorf("Cost(no-such-model) = %v, true; want ok false", got)
	}
}

// Sonnet 4.5 past 200k input tokens is priced at its higher tier.
func TestTieredCost(t *testing.T) {
	got, ok := Bundled().Cost("claude-sonnet-4-5", pool.Usage{InputTokens: 250_000, OutputTokens: 1_000}, time.Now())
	want := 250_000*6e-6 + 1_000*22.5e-6
	if !ok || math.Abs(got-want) > 1e-9 {
		t.Errorf("Cost = %.6f, %v; want %.6f, true", got, ok, want)
	}
}

// A user file's prices win over the bundled ones.
func TestUserOverride(t *testing.T) {
	p := filepath.Join(dirtest.New(t), "prices.json")
	os.WriteFile(p, []byte(`{"source":"mine","providers":{"anthropic":[{"id":"x","match":{"starts_with":"claude-sonnet"},"prices":{"input_mtok":1,"output_mtok":2}}]}}`), 0o600)
	tab, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tab.Cost("claude-sonnet-4-5", pool.Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}, time.Now()); got != 3 {
		t.Errorf("override cost = %v, want 3", got)
	}
	if !strings.HasPrefix(tab.Source, "mine + ") || Bundled().Generated == "" {
		t.Errorf("source %q, bundled table's date %q; want the user file's source first, a date", tab.Source, Bundled().Generated)
	}
}
