package relay

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// betweenEvents decides whether an error event may follow what a client
// has been sent: only after a whole event, never inside one.
func TestBetweenEvents(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   bool
	}{
		{"nothing yet", nil, true},
		{"whole event", []string{"event: a\ndata: {}\n\n"}, true},
		{"whole event, CRLF", []string{"data: {}\r\n\r\n"}, true},
		{"half an event", []string{"event: a\ndata: {\"x\":"}, false},
		{"one newline", []string{"data: {}\n"}, false},
		{"boundary split over writes", []string{"data: {}\n", "\n"}, true},
		{"tiny writes", []string{"d", "a", "t", "a", ":", "\n", "\n"}, true},
		{"tiny writes, open", []string{"\n", "\n", "d"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			cw := &clientWriter{w: rec, rc: http.NewResponseController(rec)}
			for _, w := range tt.writes {
				cw.Write([]byte(w))
			}
			if got := cw.betweenEvents(); got != tt.want {
				t.Errorf("betweenEvents after %q = %v, want %v", tt.writes, got, tt.want)
			}
		})
	}
}
