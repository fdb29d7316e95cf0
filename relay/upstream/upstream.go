// Package upstream builds the HTTP transports the relay uses to reach
// providers: one per account, going through the account's SOCKS5 or HTTP
// proxy when it has one, tuned for many long-lived streams and never
// altering bytes (no transparent compression).
package upstream

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/proxy"

	"keypool/relay/pool"
)

// NewTransport returns a transport that dials directly or through p.
// password is the proxy's password, if it has one.
func NewTransport(p *pool.Proxy, password string) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// The client's Accept-Encoding goes upstream as sent and the
		// answer comes back as encoded: the relay passes bytes through.
		DisableCompression: true,
	}
	if p == nil {
		return t, nil
	}
	addr := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
	switch p.Type {
	case "http":
		u := &url.URL{Scheme: "http", Host: addr}
		if p.Username != "" || password != "" {
			u.User = url.UserPassword(p.Username, password)
		}
		t.Proxy = http.ProxyURL(u)
	case "socks5":
		var auth *proxy.Auth
		if p.Username != "" || password != "" {
			auth = &proxy.Auth{User: p.Username, Password: password}
		}
		d, err := proxy.SOCKS5("tcp", addr, auth, dialer)
		if err != nil {
			return nil, fmt.Errorf("socks5 proxy %s: %w", addr, err)
		}
		cd, ok := d.(proxy.ContextDialer)
		if !ok {
			return nil, fmt.Errorf("socks5 proxy %s: dialer cannot take a context", addr)
		}
		t.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
			return cd.DialContext(ctx, network, address)
		}
		// HTTP/2 over a custom dialer still works through TLS ALPN.
	default:
		return nil, fmt.Errorf("proxy type %q: want socks5 or http", p.Type)
	}
	return t, nil
}
