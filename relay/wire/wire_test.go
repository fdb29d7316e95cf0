package wire

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRetrySeconds(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want int64
	}{
		{"zero", 0, 0},
		{"one_nanosecond", time.Nanosecond, 1},
		{"half_second", 500 * time.Millisecond, 1},
		{"just_under_a_second", time.Second - time.Nanosecond, 1},
		{"one_second", time.Second, 1},
		{"just_over_a_second", time.Second + time.Nanosecond, 2},
		{"one_and_a_half_seconds", 1500 * time.Millisecond, 2},
		{"thirty_seconds", 30 * time.Second, 30},
		{"just_over_a_minute", time.Minute + time.Millisecond, 61},
		{"one_hour", time.Hour, 3600},
		{"a_day", 24 * time.Hour, 86400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetrySeconds(tt.in); got != tt.want {
				t.Errorf("RetrySeconds(%v) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter time.Duration
		wantRetry  string // "" for no Retry-After header
	}{
		{"rate_limited", http.StatusTooManyRequests, `{"error":"slow down"}`, 30 * time.Second, "30"},
		{"retry_rounded_up", http.StatusServiceUnavailable, `{"error":"busy"}`, 1500 * time.Millisecond, "2"},
		{"retry_under_a_second", http.StatusServiceUnavailable, `{"error":"busy"}`, time.Millisecond, "1"},
		{"no_retry", http.StatusNotFound, `{"error":"no route"}`, 0, ""},
		{"negative_retry", http.StatusBadGateway, `{"error":"upstream"}`, -time.Second, ""},
		{"empty_body", http.StatusUnauthorized, "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, tt.status, []byte(tt.body), tt.retryAfter)
			res := w.Result()
			if res.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.status)
			}
			if got := w.Body.String(); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
			for k, want := range map[string]string{
				"Content-Type":           "application/json",
				"X-Content-Type-Options": "nosniff",
				"Retry-After":            tt.wantRetry,
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// Headers set before the error (the relay sets Allow on a 405) go out with
// it; a content type set before is replaced, since the body is JSON.
func TestWriteErrorKeepsHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Allow", http.MethodPost)
	w.Header().Set("Content-Type", "text/plain")
	WriteError(w, http.StatusMethodNotAllowed, []byte(`{}`), 0)
	for k, want := range map[string]string{"Allow": http.MethodPost, "Content-Type": "application/json"} {
		if got := w.Result().Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want [%q]", k, got, want)
		}
	}
}
