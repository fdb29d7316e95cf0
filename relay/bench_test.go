package relay_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// BenchmarkServeSmall is the relay's hot path: a small Messages request
// served by one healthy account, through ServeHTTP (no client connection),
// to a fake upstream on loopback. Its allocs/op is the figure to watch when
// the request path changes.
func BenchmarkServeSmall(b *testing.B) {
	up := relaytest.New()
	defer up.Close()
	srv, err := relay.New(relay.Config{
		Accounts:    []pool.Account{{ID: "a", Name: "a", Kind: pool.KindClaudeAPI, Priority: 1, Enabled: true, APIURL: up.URL}},
		Credentials: keys{}, ClientKeys: []string{"local-key"}, ListenHost: "127.0.0.1",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	b.ReportAllocs()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/v1/messages", strings.NewReader(simple))
			req.Header.Set("x-api-key", "local-key")
			req.Header.Set("anthropic-version", "2023-06-01")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
			io.Copy(io.Discard, w.Body)
		}
	})
}
