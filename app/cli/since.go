package cli

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// sinceForms says which --since values are accepted.
const sinceForms = "use today, yesterday, a duration back (24h, 90m, 7d, 2w) or a date (2026-11-01, or 2026-11-01T09:00:00Z)"

// errSince is what a --since value no form reads gives.
var errSince = errors.New(sinceForms)

// parseSince reads a --since value relative to now, in now's location:
// today and yesterday start at local midnight; a duration counts back from
// now (d for days and w for weeks too); a date is its local midnight.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	switch strings.ToLower(s) {
	case "today":
		return midnight, nil
	case "yesterday":
		return midnight.AddDate(0, 0, -1), nil
	}
	for suffix, days := range map[string]int{"d": 1, "w": 7} {
		if n, err := strconv.Atoi(strings.TrimSuffix(s, suffix)); err == nil && strings.HasSuffix(s, suffix) && n >= 0 {
			return now.AddDate(0, 0, -n*days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, now.Location()); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, errSince
}
