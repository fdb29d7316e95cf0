package wire

import (
	"strconv"
	"strings"
	"time"
)

// ParseFloat reads a number from a header value; ok is false when the value
// is empty or not a number.
func ParseFloat(s string) (f float64, ok bool) {
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

// EpochTime reads a header's Unix time in seconds; a missing, malformed or
// non-positive value is the zero time.
func EpochTime(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}
