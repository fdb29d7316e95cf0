package relay

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"keypool/relay/pool"
)

// readQuota reads plan windows from an answer's headers: Anthropic's
// unified (subscription) windows and Codex's primary/secondary windows.
// It looks for one header of each family first, so answers without them
// cost two lookups.
func readQuota(h http.Header) []pool.Quota {
	var out []pool.Quota
	if h.Get("Anthropic-Ratelimit-Unified-Status") != "" || h.Get("Anthropic-Ratelimit-Unified-5h-Utilization") != "" {
		for _, w := range []string{"5h", "7d", "7d_oi", "7d_opus", "7d_sonnet"} {
			p := "Anthropic-Ratelimit-Unified-" + w + "-"
			util, ok := parseFloat(h.Get(p + "Utilization"))
			if !ok {
				continue
			}
			if util > 1 { // some send percent
				util /= 100
			}
			out = append(out, pool.Quota{Window: w, Utilization: util, ResetsAt: epochTime(h.Get(p + "Reset")), Status: h.Get(p + "Status")})
		}
	}
	if h.Get("X-Codex-Primary-Used-Percent") != "" {
		for _, w := range []string{"primary", "secondary"} {
			p := "X-Codex-" + strings.ToUpper(w[:1]) + w[1:] + "-"
			pct, ok := parseFloat(h.Get(p + "Used-Percent"))
			if !ok {
				continue
			}
			name := w
			if mins, ok := parseFloat(h.Get(p + "Window-Minutes")); ok {
				name = windowName(time.Duration(mins) * time.Minute)
			}
			out = append(out, pool.Quota{Window: name, Utilization: pct / 100, ResetsAt: epochTime(h.Get(p + "Reset-At"))})
		}
	}
	return out
}

func windowName(d time.Duration) string {
	if d >= 24*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return strconv.Itoa(int(d/time.Hour)) + "h"
}

func parseFloat(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

func epochTime(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}
