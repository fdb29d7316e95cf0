package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"keypool/app"
	"keypool/internal/dirtest"
)

// forward is a plain TCP forwarder on 127.0.0.1 to addr, as socat or
// ssh -R would be on a server: the relay sees every connection come from
// loopback, and the Host the client sent. It returns its address.
func forward(t *testing.T, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	// keep notes a connection for the cleanup to close, or closes it when
	// the cleanup has run.
	keep := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			c.Close()
			return false
		}
		conns = append(conns, c)
		return true
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			if !keep(in) {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			if !keep(out) {
				return
			}
			wg.Go(func() { io.Copy(out, in); out.Close() })
			wg.Go(func() { io.Copy(in, out); in.Close() })
		}
	})
	return l.Addr().String()
}

// Through a TCP forwarder on the same machine a request looks local, and
// /health and /metrics would answer it without a key; [server]
// monitors_need_key ends that exemption, and keypool status then shows the
// relay the metrics token.
func TestMonitorsNeedKeyBehindForwarder(t *testing.T) {
	tests := []struct {
		name    string
		needKey bool
		path    string
		auth    string // Authorization
		want    int
	}{
		{"exempt_health", false, "/health", "", 200},
		{"exempt_metrics", false, "/metrics", "", 200},
		{"health_without_key", true, "/health", "", 401},
		{"metrics_without_key", true, "/metrics", "", 401},
		{"health_wrong_key", true, "/health", "Bearer nope", 401},
		{"metrics_token", true, "/metrics", "Bearer scrape-token", 200},
		{"client_key", true, "/health", "Bearer kp-mon-key", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := dirtest.New(t)
			cfg := filepath.Join(dir, "config.toml")
			doc := fmt.Sprintf("api_keys = [\"kp-mon-key\"]\n[server]\nlog_level = \"error\"\nmetrics_token = \"scrape-token\"\nmonitors_need_key = %v\n", tt.needKey)
			must(t, os.WriteFile(cfg, []byte(doc), 0o600))
			p := app.Params{ConfigPath: cfg, DataDir: filepath.Join(dir, "data")}
			r := start(t, p)
			via := forward(t, strings.TrimPrefix(r.URL(), "http://"))
			req, _ := http.NewRequest(http.MethodGet, "http://"+via+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s through a forwarder = %s (%s), want %d", tt.path, resp.Status, b, tt.want)
			}
			var out bytes.Buffer
			if err := app.Status(context.Background(), p, &out); err != nil || !strings.Contains(out.String(), "running at") {
				t.Errorf("status: %v\n%s\nwant the running relay's", err, out.String())
			}
		})
	}
}
