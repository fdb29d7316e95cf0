package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"keypool/app"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// BenchmarkAppSmallRequests sends small Messages requests through the whole
// app (relay, bbolt store, journal) to a fake upstream, all in one process:
// a harness for profiling the request path (-cpuprofile), where make bench's
// comparison runs each part in its own process.
func BenchmarkAppSmallRequests(b *testing.B) {
	up := relaytest.New()
	defer up.Close()
	dir := dirtest.New(b)
	p := app.Params{ConfigPath: writeConfig(b, dir, up.URL, up.URL), DataDir: filepath.Join(dir, "data"), RefreshToken: offlineRefresh, Listener: newListener(b), Logger: slog.New(slog.DiscardHandler)}
	a, err := app.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done; a.Close() }()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	body := `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", a.URL()+"/v1/messages", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer local-key")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
