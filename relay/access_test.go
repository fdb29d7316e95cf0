package relay_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"keypool/relay"
	"keypool/relay/guard"
)

// TestAccessTable covers the client key, Host and Origin checks.
func TestAccessTable(t *testing.T) {
	tests := []struct {
		name   string
		host   string // request Host header ("" keeps the test server's)
		hdr    map[string]string
		method string
		status int
	}{
		{"x_api_key_ok", "", nil, "", 200},
		{"bearer_ok", "", map[string]string{"x-api-key": "", "Authorization": "Bearer local-key"}, "", 200},
		{"missing_key", "", map[string]string{"x-api-key": ""}, "", 401},
		{"wrong_key", "", map[string]string{"x-api-key": "local-kez"}, "", 401},
		{"key_prefix_is_not_the_key", "", map[string]string{"x-api-key": "local"}, "", 401},
		{"basic_auth_is_not_a_key", "", map[string]string{"x-api-key": "", "Authorization": "Basic bG9jYWwta2V5"}, "", 401},
		{"host_localhost", "localhost:3000", nil, "", 200},
		{"host_ipv6_loopback", "[::1]:3000", nil, "", 200},
		{"host_dns_rebinding", "attacker.example:3000", nil, "", 403},
		{"host_lan_ip", "192.168.1.20:3000", nil, "", 403},
		{"origin_other_site", "", map[string]string{"Origin": "https://evil.example"}, "", 403},
		{"origin_null", "", map[string]string{"Origin": "null"}, "", 403},
		{"fetch_metadata_cross_site", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 403},
		{"preflight", "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, "OPTIONS", 403},
		{"claude_code_browser_access_header_is_fine", "", map[string]string{"anthropic-dangerous-direct-browser-access": "true"}, "", 200},
	}
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "POST"
			}
			req, _ := http.NewRequest(method, h.http.URL+"/v1/messages", strings.NewReader(simple))
			req.Header.Set("x-api-key", "local-key")
			for k, v := range tt.hdr {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			before := h.ups["a"].Count()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b := readAll(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.status, b)
			}
			if tt.status != 200 {
				errorType(t, b)
				if h.ups["a"].Count() != before {
					t.Error("a refused request reached the upstream")
				}
				if strings.Contains(b, "local-ke") {
					t.Error("error echoes the key")
				}
			}
		})
	}
}

// With no client keys the relay is open and records "anonymous"; listening on
// a non-loopback address accepts other Host names.
func TestOpenRelayAndNonLoopbackHost(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) {
		c.ClientKeys = nil
		c.ListenHost = "0.0.0.0"
	})
	resp, _ := h.do("POST", "/v1/messages", simple, map[string]string{"x-api-key": "", "Host": ""})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if r := waitRecords(t, h.sink, 1)[0]; r.ClientID != "anonymous" {
		t.Errorf("client = %q", r.ClientID)
	}
	req, _ := http.NewRequest("POST", h.http.URL+"/v1/messages", strings.NewReader(simple))
	req.Host = "relay.lan:3000"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("non-loopback host: %v, want 200", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("non-loopback host refused: %s, want 200", resp.Status)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

// A request refused before it reaches an account (no key, wrong key, a
// paused relay) is recorded, with why and no account, so the window's
// activity shows it; at most one a second, so a flood cannot fill the disk.
func TestRefusalsAreRecorded(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	post := func(key string) {
		req, _ := http.NewRequest("POST", h.http.URL+"/v1/messages", strings.NewReader(simple))
		req.Header.Set("x-api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
	}
	post("local-kez")
	post("local-kez") // within the same second: not recorded again
	waitRecords(t, h.sink, 1)
	h.clock.Add(2 * time.Second)
	h.srv.SetPaused(true)
	post("local-key")
	recs := waitRecords(t, h.sink, 2)
	if len(recs) != 2 {
		t.Fatalf("records = %+v, want the wrong key once and the pause", recs)
	}
	for i, want := range []struct {
		status int
		why    string
	}{{401, "client key"}, {503, "paused"}} {
		r := recs[i]
		if r.Account != "" || r.Status != want.status || !strings.Contains(r.Error, want.why) || r.Route != "messages" {
			t.Errorf("record %d = %+v, want status %d, no account, why %q", i, r, want.status, want.why)
		}
		if strings.Contains(r.Error, "local-ke") {
			t.Error("the record holds the key")
		}
	}
}

// /health and /metrics name accounts, states and usage: a program on this
// machine reads them freely; from another machine, or through a proxy on
// this one, they need a client key or the metrics token, and the token
// opens nothing else.
func TestMonitorsBeyondLoopback(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) {
		c.ListenHost = "127.0.0.1"
		c.Public = guard.Public{Names: []string{"kp.example.com"}, MetricsToken: "scrape-token"}
	})
	const local, remote = "127.0.0.1:50000", "192.0.2.7:50000"
	proxied := map[string]string{"X-Forwarded-For": "198.51.100.9"}
	tests := []struct {
		name   string
		path   string
		from   string // the request's RemoteAddr
		host   string // its Host ("": localhost:3000)
		hdr    map[string]string
		status int
	}{
		{"health_loopback_open", "/health", local, "", nil, 200},
		{"metrics_loopback_open", "/metrics", local, "", nil, 200},
		{"health_remote_no_key", "/health", remote, "", nil, 401},
		{"metrics_remote_no_key", "/metrics", remote, "", nil, 401},
		{"health_remote_wrong_key", "/health", remote, "", map[string]string{"x-api-key": "nope"}, 401},
		{"health_remote_client_key", "/health", remote, "", map[string]string{"x-api-key": "local-key"}, 200},
		{"metrics_remote_token", "/metrics", remote, "", map[string]string{"Authorization": "Bearer scrape-token"}, 200},
		{"health_proxied_no_key", "/health", local, "kp.example.com", proxied, 401},
		{"health_proxied_forwarded_loopback_name", "/health", local, "", proxied, 401},
		{"health_proxied_client_key", "/health", local, "kp.example.com", map[string]string{"X-Forwarded-For": "198.51.100.9", "x-api-key": "local-key"}, 200},
		{"messages_by_public_name", "/v1/messages", remote, "kp.example.com:443", map[string]string{"x-api-key": "local-key"}, 200},
		{"messages_with_metrics_token", "/v1/messages", remote, "kp.example.com", map[string]string{"Authorization": "Bearer scrape-token"}, 401},
		{"other_name_refused", "/health", local, "evil.example", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, body := http.MethodGet, ""
			if tt.path == "/v1/messages" {
				method, body = http.MethodPost, simple
			}
			req := httptest.NewRequest(method, "http://localhost:3000"+tt.path, strings.NewReader(body))
			req.RemoteAddr = tt.from
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.srv.ServeHTTP(rec, req)
			if b := rec.Body.String(); rec.Code != tt.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tt.status, b)
			} else if rec.Code != 200 && (strings.Contains(b, `"a"`) || strings.Contains(b, "scrape-token")) {
				t.Errorf("refusal says %s, want no account and no token in it", b)
			}
		})
	}
	// And over a real connection from loopback, with no key at all.
	if resp, b := h.do("GET", "/health", "", map[string]string{"x-api-key": ""}); resp.StatusCode != 200 {
		t.Errorf("GET /health from loopback without a key: %s (%s), want 200", resp.Status, b)
	}
}

// refusalLog counts the relay's "request refused" log lines.
type refusalLog struct{ n atomic.Int32 }

func (l *refusalLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *refusalLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *refusalLog) WithGroup(string) slog.Handler            { return l }
func (l *refusalLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "request refused" {
		l.n.Add(1)
	}
	return nil
}

// A flood of refused requests logs one line a second, so it cannot fill
// the journal, while keypool_refused_total counts every refusal.
func TestRefusalLogRateLimited(t *testing.T) {
	var logs refusalLog
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) {
		c.Logger = slog.New(&logs)
	})
	refuse := func() {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "http://attacker.example/v1/messages", strings.NewReader(simple))
		req.RemoteAddr = "127.0.0.1:50000"
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("status = %d, want 403", rec.Code)
		}
	}
	for range 5 {
		refuse()
	}
	if n := logs.n.Load(); n != 1 {
		t.Errorf("5 refusals in a second logged %d lines, want 1", n)
	}
	h.clock.Add(1100 * time.Millisecond)
	refuse()
	if n := logs.n.Load(); n != 2 {
		t.Errorf("a refusal a second later: %d lines in all, want 2", n)
	}
	_, m := h.do("GET", "/metrics", "", nil)
	if !strings.Contains(m, `keypool_refused_total{reason="host"} 6`) {
		t.Errorf("/metrics does not count all 6 refusals:\n%s", grepLines(m, "keypool_refused_total"))
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
