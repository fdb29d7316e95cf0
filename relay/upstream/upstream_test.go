package upstream

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	socks5 "github.com/armon/go-socks5"

	"keypool/relay/pool"
)

func upstreamServer(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "via upstream")
	}))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, tr http.RoundTripper, url string) (string, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func hostPort(t *testing.T, addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// A SOCKS5 proxy with username and password carries the account's traffic.
func TestSOCKS5Proxy(t *testing.T) {
	up := upstreamServer(t)
	var dials atomic.Int32
	srv, err := socks5.New(&socks5.Config{
		Credentials: socks5.StaticCredentials{"kp": "proxy-pass"},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go srv.Serve(l)
	host, port := hostPort(t, l.Addr().String())
	p := &pool.Proxy{Type: "socks5", Host: host, Port: port, Username: "kp"}

	tr, err := NewTransport(p, "proxy-pass")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	if body, err := get(t, tr, up.URL); err != nil || body != "via upstream" || dials.Load() != 1 {
		t.Fatalf("through socks5: %q, %v, %d dials; want \"via upstream\", nil, 1", body, err, dials.Load())
	}

	bad, _ := NewTransport(p, "wrong")
	defer bad.CloseIdleConnections()
	if _, err := get(t, bad, up.URL); err == nil {
		t.Fatal("through socks5 with a wrong password: err = nil, want an error")
	}
}

// An HTTP proxy gets Proxy-Authorization from the account's username and
// password.
func TestHTTPProxy(t *testing.T) {
	up := upstreamServer(t)
	var seen atomic.Int32
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("kp:proxy-pass"))
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != want || !r.URL.IsAbs() {
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		seen.Add(1)
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	host, port := hostPort(t, proxy.Listener.Addr().String())
	tr, err := NewTransport(&pool.Proxy{Type: "http", Host: host, Port: port, Username: "kp"}, "proxy-pass")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	if body, err := get(t, tr, up.URL); err != nil || body != "via upstream" || seen.Load() != 1 {
		t.Fatalf("through http proxy: %q, %v, proxied %d; want \"via upstream\", nil, 1", body, err, seen.Load())
	}
}

func TestUnknownProxyType(t *testing.T) {
	if _, err := NewTransport(&pool.Proxy{Type: "ftp", Host: "h", Port: 1}, ""); err == nil {
		t.Fatal("NewTransport(ftp proxy): err = nil, want an error")
	}
}
