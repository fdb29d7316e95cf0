// Package wire holds what every provider's HTTP answers share: error
// answers with a JSON body the browser must not sniff and a retry-after in
// whole seconds, and the number and time formats of rate-limit headers.
// The bodies themselves are each provider's own.
package wire

import (
	"net/http"
	"strconv"
	"time"
)

// RetrySeconds is d in whole seconds, rounded up.
func RetrySeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// WriteError answers status with the JSON body. A non-zero retryAfter adds
// a Retry-After header (whole seconds, at least 1).
func WriteError(w http.ResponseWriter, status int, body []byte, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(RetrySeconds(retryAfter), 10))
	}
	w.WriteHeader(status)
	w.Write(body)
}
