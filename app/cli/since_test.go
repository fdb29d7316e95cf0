package cli

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	now := time.Date(2026, 12, 2, 15, 30, 0, 0, loc)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"today", time.Date(2026, 12, 2, 0, 0, 0, 0, loc)},
		{"Yesterday", time.Date(2026, 12, 1, 0, 0, 0, 0, loc)},
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.AddDate(0, 0, -7)},
		{"2w", now.AddDate(0, 0, -14)},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, loc)},
		{"2026-11-01T09:00:00Z", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSince(tt.in, now)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("parseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"last week", "-3d", "2026-13-01", "", "d"} {
		if _, err := parseSince(bad, now); !errors.Is(err, errSince) {
			t.Errorf("parseSince(%q) err = %v, want the accepted forms", bad, err)
		}
	}
}

// A --since that is not understood gets the accepted forms, not Go's
// time-layout error.
func TestUsageSinceError(t *testing.T) {
	err := run(context.Background(), []string{"usage", "--since", "last week", "--data-dir", t.TempDir()}, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "today, yesterday") || strings.Contains(err.Error(), "parsing time") {
		t.Errorf("err = %v, want the accepted forms (today, yesterday, …), not Go's time-layout error", err)
	}
}
