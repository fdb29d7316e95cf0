package wire

import (
	"bytes"
	"encoding/json"
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

// HasErrorField reports whether a JSON object has a top-level "error" that
// is not null: how chat.completions and Gemini streams say they failed.
func HasErrorField(data []byte) bool {
	if !bytes.Contains(data, []byte(`"error"`)) {
		return false
	}
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	return json.Unmarshal(data, &v) == nil && len(v.Error) > 0 && string(v.Error) != "null"
}
