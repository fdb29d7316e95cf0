package relay_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// The benchmarks come in pairs: the relay, and a plain
// httputil.ReverseProxy (the thin-proxy reference, as in make bench) in
// front of the same fake upstream, each through ServeHTTP with no client
// connection. Read the relay's ns/op against the reference's from the same
// run: the relay should stay within 1/0.9 of it. Their allocs/op are the
// figures to watch when the request path changes.

// benchRelay is a relay with one healthy Claude API account at upstream.
func benchRelay(b *testing.B, upURL string) *relay.Server {
	b.Helper()
	srv, err := relay.New(relay.Config{
		Accounts:    []pool.Account{{ID: "a", Name: "a", Kind: pool.KindClaudeAPI, Priority: 1, Enabled: true, APIURL: upURL}},
		Credentials: keys{}, ClientKeys: []string{"local-key"}, ListenHost: "127.0.0.1",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	return srv
}

// benchReverseProxy is the reference: it sets the account's key and passes
// everything else on, flushing each write.
func benchReverseProxy(b *testing.B, upURL string) http.Handler {
	b.Helper()
	target, err := url.Parse(upURL)
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Set("X-Api-Key", "sk-ant-test-a")
		},
		FlushInterval: -1,
		Transport:     tr,
	}
}

// serveParallel sends body to h from parallel goroutines and checks that
// each answer is a 200; answers' bodies are dropped.
func serveParallel(b *testing.B, h http.Handler, body string) {
	b.ReportAllocs()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/v1/messages", strings.NewReader(body))
			req.Header.Set("x-api-key", "local-key")
			req.Header.Set("anthropic-version", "2023-06-01")
			w := &discardWriter{}
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Errorf("status %d", w.code)
				return
			}
		}
	})
}

// BenchmarkServeSmall is the relay's hot path: a small Messages request
// served by one healthy account, to a fake upstream on loopback.
func BenchmarkServeSmall(b *testing.B) {
	up := relaytest.New()
	defer up.Close()
	serveParallel(b, benchRelay(b, up.URL), simple)
}

// BenchmarkReverseProxySmall is BenchmarkServeSmall's reference.
func BenchmarkReverseProxySmall(b *testing.B) {
	up := relaytest.New()
	defer up.Close()
	serveParallel(b, benchReverseProxy(b, up.URL), simple)
}

// benchEvents is the number of text events in a benchmark stream.
const benchEvents = 200

// BenchmarkServeStream is the per-event path: a stream of benchEvents text
// events (plus the usual start and end), each flushed by the upstream, read
// for usage and flushed to the client by the relay. Its allocs/op, less
// BenchmarkServeSmall's, is what a stream costs; TestStreamEventsAllocateNothing
// checks that none of it grows with the events.
func BenchmarkServeStream(b *testing.B) {
	up := streamUpstream(benchEvents)
	defer up.Close()
	serveParallel(b, benchRelay(b, up.URL), streamBody)
}

// BenchmarkReverseProxyStream is BenchmarkServeStream's reference.
func BenchmarkReverseProxyStream(b *testing.B) {
	up := streamUpstream(benchEvents)
	defer up.Close()
	serveParallel(b, benchReverseProxy(b, up.URL), streamBody)
}

const streamBody = `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`

// streamUpstream answers every request with a Messages stream of n text
// events, written and flushed one event at a time from bytes made once, so
// that the upstream itself allocates nothing per event.
func streamUpstream(n int) *httptest.Server {
	var evs [][]byte
	for _, ev := range relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(n), 10, n, 0, 0) {
		evs = append(evs, []byte(ev+"\n\n"))
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		f := w.(http.Flusher)
		for _, ev := range evs {
			if _, err := w.Write(ev); err != nil {
				return
			}
			f.Flush()
		}
	}))
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body, so that what a benchmark counts is the relay's, not a growing
// recorder's. It flushes and takes deadlines like net/http's own.
type discardWriter struct {
	h    http.Header
	code int
	n    int64
}

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}

func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discardWriter) Write(p []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	d.n += int64(len(p))
	return len(p), nil
}

func (d *discardWriter) Flush() {}

// SetWriteDeadline is there, as on a real connection, for the relay's
// ResponseController, which would otherwise make an error per write.
func (d *discardWriter) SetWriteDeadline(time.Time) error { return nil }

// TestStreamEventsAllocateNothing checks that the relay's per-event path (read,
// find the event's end, read usage, write, flush) allocates nothing: a
// stream with many more events costs no more allocations than a short one.
// Allocations are counted for the whole process, fake upstream included,
// whose part does not grow with the events either.
func TestStreamEventsAllocateNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over many requests")
	}
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	allocs := func(events int) float64 {
		up := streamUpstream(events)
		defer up.Close()
		srv, err := relay.New(relay.Config{
			Accounts:    []pool.Account{{ID: "a", Name: "a", Kind: pool.KindClaudeAPI, Priority: 1, Enabled: true, APIURL: up.URL}},
			Credentials: keys{}, ClientKeys: []string{"local-key"}, ListenHost: "127.0.0.1",
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		var failed error
		n := testing.AllocsPerRun(50, func() {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/v1/messages", strings.NewReader(streamBody))
			req.Header.Set("x-api-key", "local-key")
			req.Header.Set("anthropic-version", "2023-06-01")
			w := &discardWriter{}
			srv.ServeHTTP(w, req)
			if w.code != http.StatusOK && failed == nil {
				failed = fmt.Errorf("status %d", w.code)
			}
		})
		if failed != nil {
			t.Fatal(failed)
		}
		return n
	}
	short, long := allocs(10), allocs(10+benchEvents)
	t.Logf("allocations per stream: %v with 10 events, %v with %d", short, long, 10+benchEvents)
	// A few allocations either way are noise (a connection's buffers, a
	// timer); one per event would be benchEvents more.
	if perEvent := (long - short) / benchEvents; perEvent > 0.05 {
		t.Errorf("allocations per stream: %v with 10 events, %v with %d: %.2f per event, want 0",
			short, long, 10+benchEvents, perEvent)
	}
}
