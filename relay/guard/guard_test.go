package guard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestKeyID(t *testing.T) {
	// The digests are SHA-256's, worked out apart from the code under test.
	tests := []struct{ name, key, want string }{
		{"empty", "", "key-e3b0c442"},
		{"alpha", "alpha", "key-8ed3f6ad"},
		{"beta", "beta", "key-f44e64e7"},
		{"client_key", "sk-local-1", "key-04d211dc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyID(tt.key); got != tt.want {
				t.Errorf("KeyID(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LocalHost", true},
		{"app.localhost", true},
		{"App.LOCALHOST", true},
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"[::1]", true},
		{"0:0:0:0:0:0:0:1", true},
		{"::ffff:127.0.0.1", true},
		{"", false},
		{"0.0.0.0", false},
		{"::", false},
		{"[::]", false},
		{"192.168.1.10", false},
		{"10.0.0.1", false},
		{"example.com", false},
		{"localhost.example.com", false},
		{"notlocalhost", false},
		{"127.0.0.1.nip.io", false},
		{"127.0.0.1:8080", false}, // a host with its port is not a host
		{"[::1]:8080", false},
	}
	for _, tt := range tests {
		name := tt.host
		if name == "" {
			name = "empty"
		}
		t.Run(name, func(t *testing.T) {
			if got := IsLoopback(tt.host); got != tt.want {
				t.Errorf("IsLoopback(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		name       string
		listenHost string
		host       string // the request's Host header
		want       error
	}{
		{"localhost_with_port", "127.0.0.1", "localhost:8787", nil},
		{"localhost_without_port", "127.0.0.1", "localhost", nil},
		{"ipv4_loopback", "127.0.0.1", "127.0.0.1:8787", nil},
		{"ipv6_loopback_with_port", "127.0.0.1", "[::1]:8787", nil},
		{"ipv6_loopback_without_port", "127.0.0.1", "[::1]", nil},
		{"subdomain_of_localhost", "127.0.0.1", "api.localhost:8787", nil},
		{"listen_localhost", "localhost", "127.0.0.1:8787", nil},
		{"listen_ipv6_loopback", "::1", "localhost:8787", nil},
		{"rebinding_name", "127.0.0.1", "evil.example:8787", ErrHost},
		{"rebinding_name_without_port", "127.0.0.1", "evil.example", ErrHost},
		{"localhost_prefix", "127.0.0.1", "localhost.evil.example:8787", ErrHost},
		{"lan_address", "127.0.0.1", "192.168.1.10:8787", ErrHost},
		{"unspecified_address", "127.0.0.1", "0.0.0.0:8787", ErrHost},
		{"empty_host", "127.0.0.1", "", ErrHost},
		{"listen_all_interfaces_any_name", "0.0.0.0", "evil.example:8787", nil},
		{"listen_lan_any_name", "192.168.1.10", "keypool.lan:8787", nil},
		{"listen_empty_any_name", "", "evil.example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(nil, tt.listenHost, Public{})
			r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
			r.Host = tt.host
			if err := g.CheckHost(r); !errors.Is(err, tt.want) {
				t.Errorf("New(nil, %q).CheckHost(Host %q) = %v, want %v", tt.listenHost, tt.host, err, tt.want)
			}
		})
	}
}

func TestCheckOrigin(t *testing.T) {
	const host = "127.0.0.1:8787"
	tests := []struct {
		name   string
		method string
		header map[string]string
		want   error
	}{
		{"cli_no_headers", http.MethodPost, nil, nil},
		{"same_origin_http", http.MethodPost, map[string]string{"Origin": "http://" + host}, nil},
		{"same_origin_https", http.MethodPost, map[string]string{"Origin": "https://" + host}, nil},
		{"other_site", http.MethodPost, map[string]string{"Origin": "https://evil.example"}, ErrOrigin},
		{"other_port", http.MethodPost, map[string]string{"Origin": "http://127.0.0.1:9999"}, ErrOrigin},
		{"other_loopback_name", http.MethodPost, map[string]string{"Origin": "http://localhost:8787"}, ErrOrigin},
		{"origin_null", http.MethodPost, map[string]string{"Origin": "null"}, ErrOrigin},
		{"origin_without_scheme", http.MethodPost, map[string]string{"Origin": host}, ErrOrigin},
		{"preflight", http.MethodOptions, map[string]string{"Access-Control-Request-Method": "POST"}, ErrOrigin},
		{"preflight_same_origin", http.MethodOptions, map[string]string{"Access-Control-Request-Method": "POST", "Origin": "http://" + host}, ErrOrigin},
		{"options_without_preflight", http.MethodOptions, nil, nil},
		{"request_method_header_on_post", http.MethodPost, map[string]string{"Access-Control-Request-Method": "POST"}, nil},
		{"fetch_cross_site", http.MethodPost, map[string]string{"Sec-Fetch-Site": "cross-site"}, ErrOrigin},
		{"fetch_same_site", http.MethodGet, map[string]string{"Sec-Fetch-Site": "same-site"}, ErrOrigin},
		{"fetch_same_origin", http.MethodPost, map[string]string{"Sec-Fetch-Site": "same-origin"}, nil},
		{"fetch_none", http.MethodGet, map[string]string{"Sec-Fetch-Site": "none"}, nil},
		{"fetch_cross_site_same_origin_header", http.MethodPost, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://" + host}, ErrOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/v1/messages", nil)
			r.Host = host
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if err := CheckOrigin(r); !errors.Is(err, tt.want) {
				t.Errorf("CheckOrigin(%s, Host %q, %v) = %v, want %v", tt.method, host, tt.header, err, tt.want)
			}
		})
	}
}

func TestClientID(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		header map[string]string
		want   string
		err    error
	}{
		{"open_without_key", nil, nil, Anonymous, nil},
		{"open_ignores_a_key", nil, map[string]string{"X-Api-Key": "whatever"}, Anonymous, nil},
		{"x_api_key_first", []string{"alpha", "beta"}, map[string]string{"X-Api-Key": "alpha"}, "key-8ed3f6ad", nil},
		{"x_api_key_second", []string{"alpha", "beta"}, map[string]string{"X-Api-Key": "beta"}, "key-f44e64e7", nil},
		{"x_goog_api_key", []string{"alpha", "beta"}, map[string]string{"X-Goog-Api-Key": "beta"}, "key-f44e64e7", nil},
		{"bearer", []string{"alpha", "beta"}, map[string]string{"Authorization": "Bearer alpha"}, "key-8ed3f6ad", nil},
		{"bearer_lower_case", []string{"alpha", "beta"}, map[string]string{"Authorization": "bearer beta"}, "key-f44e64e7", nil},
		{"bearer_upper_case_spaces", []string{"alpha", "beta"}, map[string]string{"Authorization": "BEARER   beta  "}, "key-f44e64e7", nil},
		{"x_api_key_before_bearer", []string{"alpha", "beta"}, map[string]string{"X-Api-Key": "alpha", "Authorization": "Bearer beta"}, "key-8ed3f6ad", nil},
		{"x_api_key_before_goog", []string{"alpha", "beta"}, map[string]string{"X-Api-Key": "beta", "X-Goog-Api-Key": "alpha"}, "key-f44e64e7", nil},
		{"goog_before_bearer", []string{"alpha", "beta"}, map[string]string{"X-Goog-Api-Key": "alpha", "Authorization": "Bearer beta"}, "key-8ed3f6ad", nil},
		// Claude Code sends both when both its key variables are set: the
		// user's own exported key, and the one Keypool gave it.
		{"wrong_x_api_key_right_bearer", []string{"alpha"}, map[string]string{"X-Api-Key": "sk-ant-users-own", "Authorization": "Bearer alpha"}, "key-8ed3f6ad", nil},
		{"wrong_everywhere", []string{"alpha"}, map[string]string{"X-Api-Key": "nope", "Authorization": "Bearer nope"}, "", ErrBadKey},
		{"no_key", []string{"alpha"}, nil, "", ErrNoKey},
		{"bearer_without_token", []string{"alpha"}, map[string]string{"Authorization": "Bearer "}, "", ErrNoKey},
		{"bearer_only_spaces", []string{"alpha"}, map[string]string{"Authorization": "Bearer    "}, "", ErrNoKey},
		{"basic_auth", []string{"alpha"}, map[string]string{"Authorization": "Basic YWxwaGE6"}, "", ErrNoKey},
		{"bare_token", []string{"alpha"}, map[string]string{"Authorization": "alpha"}, "", ErrNoKey},
		{"wrong_key", []string{"alpha", "beta"}, map[string]string{"X-Api-Key": "gamma"}, "", ErrBadKey},
		{"prefix_of_key", []string{"alpha"}, map[string]string{"X-Api-Key": "alph"}, "", ErrBadKey},
		{"key_with_suffix", []string{"alpha"}, map[string]string{"X-Api-Key": "alphabet"}, "", ErrBadKey},
		{"case_differs", []string{"alpha"}, map[string]string{"X-Api-Key": "Alpha"}, "", ErrBadKey},
		{"key_id_as_key", []string{"alpha"}, map[string]string{"X-Api-Key": "key-8ed3f6ad"}, "", ErrBadKey},
		// An empty configured key closes the relay rather than opening it:
		// no request can send an empty key.
		{"empty_configured_key", []string{""}, nil, "", ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(tt.keys, "127.0.0.1", Public{})
			r := httptest.NewRequest(http.MethodPost, "http://localhost:3000/v1/messages", nil)
			r.RemoteAddr = "127.0.0.1:50000"
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			got, err := g.ClientID(r)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("New(%q).ClientID(%v) = %q, %v; want %q, %v", tt.keys, tt.header, got, err, tt.want, tt.err)
			}
		})
	}
}

// Check runs the host check, then the origin check, then the key: the
// first failure is the answer, and a refused request has no client id.
func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		header map[string]string
		want   string
		err    error
	}{
		{"all_pass", "localhost:8787", map[string]string{"X-Api-Key": "alpha"}, "key-8ed3f6ad", nil},
		{"bad_host_first", "evil.example", map[string]string{"Origin": "https://evil.example", "X-Api-Key": "nope"}, "", ErrHost},
		{"bad_host_good_key", "evil.example", map[string]string{"X-Api-Key": "alpha"}, "", ErrHost},
		{"origin_before_key", "localhost:8787", map[string]string{"Origin": "https://evil.example"}, "", ErrOrigin},
		{"origin_with_good_key", "localhost:8787", map[string]string{"Origin": "https://evil.example", "X-Api-Key": "alpha"}, "", ErrOrigin},
		{"no_key", "localhost:8787", nil, "", ErrNoKey},
		{"bad_key", "localhost:8787", map[string]string{"X-Api-Key": "nope"}, "", ErrBadKey},
	}
	g := New([]string{"alpha", "beta"}, "127.0.0.1", Public{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
			r.Host = tt.host
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			got, err := g.Check(r)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("Check(Host %q, %v) = %q, %v; want %q, %v", tt.host, tt.header, got, err, tt.want, tt.err)
			}
		})
	}
}

// The relay tells the refusals apart with errors.Is to label its metrics
// and answer with the right status: no sentinel may match another.
func TestErrorsDistinct(t *testing.T) {
	errs := []error{ErrHost, ErrOrigin, ErrNoKey, ErrBadKey}
	for i, a := range errs {
		for j, b := range errs {
			if got := errors.Is(a, b); got != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", a, b, got, i == j)
			}
		}
	}
}

// The public name a reverse proxy or tailnet uses is accepted in Host, in
// any case and with any port; other names are still refused.
func TestCheckHostPublicName(t *testing.T) {
	g := New([]string{"alpha"}, "127.0.0.1", Public{Names: []string{"KP.example.com"}})
	for host, want := range map[string]error{
		"kp.example.com":          nil,
		"KP.EXAMPLE.COM:443":      nil,
		"localhost:3000":          nil,
		"evil.example":            ErrHost,
		"kp.example.com.evil.net": ErrHost,
	} {
		r := httptest.NewRequest(http.MethodGet, "/health", nil)
		r.Host = host
		if err := g.CheckHost(r); !errors.Is(err, want) {
			t.Errorf("CheckHost(Host %q) = %v, want %v", host, err, want)
		}
	}
}

func TestLocal(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		host   string
		header map[string]string
		want   bool
	}{
		{"loopback", "127.0.0.1:50000", "127.0.0.1:3000", nil, true},
		{"ipv6_loopback", "[::1]:50000", "localhost:3000", nil, true},
		{"other_machine", "192.0.2.7:50000", "192.0.2.1:3000", nil, false},
		{"other_machine_loopback_host", "192.0.2.7:50000", "localhost:3000", nil, false},
		{"proxy_on_this_machine_public_host", "127.0.0.1:50000", "kp.example.com", nil, false},
		{"proxy_forwarded_for", "127.0.0.1:50000", "localhost:3000", map[string]string{"X-Forwarded-For": "198.51.100.9"}, false},
		{"proxy_forwarded", "127.0.0.1:50000", "localhost:3000", map[string]string{"Forwarded": "for=198.51.100.9"}, false},
		{"proxy_real_ip", "127.0.0.1:50000", "localhost:3000", map[string]string{"X-Real-Ip": "198.51.100.9"}, false},
		{"no_host", "127.0.0.1:50000", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/health", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := Local(r); got != tt.want {
				t.Errorf("Local(from %s, Host %q, %v) = %v, want %v", tt.remote, tt.host, tt.header, got, tt.want)
			}
		})
	}
}

// /health and /metrics: open on this machine; from another, a client key
// or the metrics token, never nothing, even on a relay without keys.
func TestCheckMonitor(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		token  string
		remote string
		header map[string]string
		want   error
	}{
		{"local_without_key", []string{"alpha"}, "", "127.0.0.1:50000", nil, nil},
		{"local_wrong_key", []string{"alpha"}, "", "127.0.0.1:50000", map[string]string{"X-Api-Key": "nope"}, nil},
		{"remote_without_key", []string{"alpha"}, "", "192.0.2.7:50000", nil, ErrNoKey},
		{"remote_client_key", []string{"alpha"}, "", "192.0.2.7:50000", map[string]string{"X-Api-Key": "alpha"}, nil},
		{"remote_wrong_key", []string{"alpha"}, "", "192.0.2.7:50000", map[string]string{"X-Api-Key": "nope"}, ErrBadKey},
		{"remote_metrics_token", []string{"alpha"}, "scrape", "192.0.2.7:50000", map[string]string{"Authorization": "Bearer scrape"}, nil},
		{"remote_token_not_set", []string{"alpha"}, "", "192.0.2.7:50000", map[string]string{"Authorization": "Bearer scrape"}, ErrBadKey},
		{"remote_open_relay", nil, "", "192.0.2.7:50000", map[string]string{"X-Api-Key": "anything"}, ErrBadKey},
		{"forwarded_without_key", []string{"alpha"}, "", "127.0.0.1:50000", map[string]string{"X-Forwarded-For": "198.51.100.9"}, ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(tt.keys, "0.0.0.0", Public{MetricsToken: tt.token})
			r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			r.RemoteAddr, r.Host = tt.remote, "localhost:3000"
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if err := g.CheckMonitor(r); !errors.Is(err, tt.want) {
				t.Errorf("CheckMonitor(from %s, %v) = %v, want %v", tt.remote, tt.header, err, tt.want)
			}
		})
	}
	// The metrics token opens the monitors only: it is no client key.
	g := New([]string{"alpha"}, "0.0.0.0", Public{MetricsToken: "scrape"})
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
	r.Header.Set("Authorization", "Bearer scrape")
	if _, err := g.ClientID(r); !errors.Is(err, ErrBadKey) {
		t.Errorf("ClientID(metrics token) = %v, want %v", err, ErrBadKey)
	}
}

// A relay without client keys answers programs on this machine only: a
// request from another address is refused however the relay came to
// listen there (the app refuses to start so; this is the backstop).
func TestNoKeysLocalOnly(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		remote string
		host   string
		key    string
		want   error
	}{
		{"loopback", "127.0.0.1", "127.0.0.1:50000", "localhost:3000", "", nil},
		{"ipv6_loopback", "0.0.0.0", "[::1]:50000", "[::1]:3000", "", nil},
		{"other_machine", "0.0.0.0", "192.0.2.7:50000", "192.0.2.1:3000", "", ErrLocalOnly},
		{"other_machine_loopback_host", "0.0.0.0", "192.0.2.7:50000", "localhost:3000", "", ErrLocalOnly},
		{"other_machine_with_a_key", "0.0.0.0", "192.0.2.7:50000", "192.0.2.1:3000", "anything", ErrLocalOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			if tt.key != "" {
				r.Header.Set("X-Api-Key", tt.key)
			}
			id, err := New(nil, tt.listen, Public{}).Check(r)
			if !errors.Is(err, tt.want) || (err == nil) != (id == Anonymous) {
				t.Fatalf("Check(from %s, Host %s) = %q, %v; want %v", tt.remote, tt.host, id, err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrNoKey) {
				t.Errorf("%v is not an ErrNoKey, which the metrics label and the 401 go by", err)
			}
		})
	}
}

// With MonitorsNeedKey a request from this machine needs a key for
// /health and /metrics too: a forwarder on this machine makes requests
// from others look local.
func TestCheckMonitorNeedsKey(t *testing.T) {
	g := New([]string{"alpha"}, "127.0.0.1", Public{MetricsToken: "scrape", MonitorsNeedKey: true})
	for _, tt := range []struct {
		name string
		key  string
		want error
	}{
		{"local_without_key", "", ErrNoKey},
		{"local_wrong_key", "nope", ErrBadKey},
		{"local_client_key", "alpha", nil},
		{"local_metrics_token", "scrape", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/health", nil)
			r.RemoteAddr, r.Host = "127.0.0.1:50000", "localhost:3000"
			if tt.key != "" {
				r.Header.Set("Authorization", "Bearer "+tt.key)
			}
			if err := g.CheckMonitor(r); !errors.Is(err, tt.want) {
				t.Errorf("CheckMonitor(local, key %q) = %v, want %v", tt.key, err, tt.want)
			}
		})
	}
}
