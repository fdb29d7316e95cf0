// Package guard decides who may use the relay: a loopback Host or the
// configured public name (so a DNS rebinding page cannot reach it), no
// browser cross-origin request, and one of the configured client keys,
// compared in constant time. A relay without client keys answers programs
// on this machine only. /health and /metrics answer any program on this
// machine, and others only with a key or the metrics token.
package guard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
)

// Anonymous is the client id of requests when no keys are configured.
const Anonymous = "anonymous"

// Errors a check returns; the relay renders them in the client's protocol.
var (
	ErrHost   = errors.New("host not allowed: the relay answers only to loopback names (localhost, 127.0.0.1, [::1]) and its [server] public_name")
	ErrOrigin = errors.New("cross-origin browser requests are not allowed")
	ErrNoKey  = errors.New("missing client key: send one of the relay's api_keys as x-api-key, x-goog-api-key or Authorization: Bearer")
	ErrBadKey = errors.New("invalid client key")
	// ErrLocalOnly refuses a request from beyond this machine to a relay
	// with no client keys; errors.Is(ErrLocalOnly, ErrNoKey) holds.
	ErrLocalOnly error = localOnlyError{}
)

type localOnlyError struct{}

func (localOnlyError) Error() string {
	return "this relay has no client keys, so it answers programs on its own machine only: give it client keys (api_keys, or keypool client-keys add) and send one"
}

func (localOnlyError) Unwrap() error { return ErrNoKey }

// Public is how programs on other machines reach the relay.
type Public struct {
	// Names are host names the Host check accepts besides loopback ones:
	// a reverse proxy's or a tailnet's name for this machine.
	Names []string
	// MetricsToken, when set, opens /health and /metrics (and nothing
	// else) to a monitor on another machine, as a client key does.
	MetricsToken string
	// MonitorsNeedKey ends the exemption of programs on this machine from
	// CheckMonitor: a TCP forwarder on this machine (socat, ssh -R, a
	// proxy that passes neither X-Forwarded-For nor the client's Host)
	// makes other machines' requests look local.
	MonitorsNeedKey bool
}

// Guard checks requests. It is safe for concurrent use.
type Guard struct {
	digests [][sha256.Size]byte
	ids     []string
	anyHost bool
	names   []string
	monitor []byte // the metrics token's digest; nil: none
	// localMonitors lets Local requests read /health and /metrics freely.
	localMonitors bool
	// open: no key is required (there are none, or only profile keys,
	// which say whose a request is without closing the relay).
	open bool
}

// New builds a guard for the given client keys (none: open, every client is
// Anonymous), the host the relay listens on (a non-loopback listen host
// accepts any Host header) and how other machines reach it.
func New(keys []string, listenHost string, pub Public) *Guard {
	return NewWithProfiles(keys, nil, listenHost, pub)
}

// NewWithProfiles is New with profile keys besides: a profile key is a
// client key like the others, except that profile keys alone do not make
// a relay on loopback require keys. There a request with no key (or one it
// does not know) stays Anonymous, and one with a profile's key is that
// profile's, so a project's CLI can be served by its profile while every
// other local program is served as before.
func NewWithProfiles(keys, profileKeys []string, listenHost string, pub Public) *Guard {
	g := &Guard{anyHost: !IsLoopback(listenHost), localMonitors: !pub.MonitorsNeedKey, open: len(keys) == 0}
	for _, n := range pub.Names {
		g.names = append(g.names, strings.ToLower(n))
	}
	if pub.MetricsToken != "" {
		d := sha256.Sum256([]byte(pub.MetricsToken))
		g.monitor = d[:]
	}
	for _, k := range slices.Concat(keys, profileKeys) {
		d := sha256.Sum256([]byte(k))
		g.digests = append(g.digests, d)
		g.ids = append(g.ids, KeyID(k))
	}
	return g
}

// KeyID names a client key without revealing it: "key-" and the first eight
// hex digits of its SHA-256.
func KeyID(key string) string {
	d := sha256.Sum256([]byte(key))
	return "key-" + hex.EncodeToString(d[:4])
}

// IsLoopback reports whether host (a name or address, without port) is a
// loopback name.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Check runs every check and returns the client's id.
func (g *Guard) Check(r *http.Request) (clientID string, err error) {
	if err := g.CheckHost(r); err != nil {
		return "", err
	}
	if err := CheckOrigin(r); err != nil {
		return "", err
	}
	return g.ClientID(r)
}

// CheckHost refuses a Host header that is neither a loopback name nor a
// public name, unless the relay listens on a non-loopback address on
// purpose.
func (g *Guard) CheckHost(r *http.Request) error {
	if g.anyHost {
		return nil
	}
	host := hostOnly(r.Host)
	if IsLoopback(host) || slices.Contains(g.names, strings.ToLower(host)) {
		return nil
	}
	return ErrHost
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// forwardHeaders are what a reverse proxy adds: a request that carries one
// came from wherever the proxy's client is.
var forwardHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip"}

// Local reports whether r comes from a program on this machine: from a
// loopback address, to a loopback name, and not relayed by a proxy (Caddy
// or tailscale serve on this machine connect from loopback too).
func Local(r *http.Request) bool {
	if !IsLoopback(hostOnly(r.RemoteAddr)) || !IsLoopback(hostOnly(r.Host)) {
		return false
	}
	for _, h := range forwardHeaders {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// CheckMonitor lets a request read /health and /metrics, which name the
// accounts, their states and usage: any from this machine (Local), unless
// Public.MonitorsNeedKey; from elsewhere, only one with a client key or the
// metrics token.
func (g *Guard) CheckMonitor(r *http.Request) error {
	if g.localMonitors && Local(r) {
		return nil
	}
	key := presented(r)
	if key == "" {
		if !g.localMonitors {
			return fmt.Errorf("%w (this relay's /health and /metrics need one, or the metrics token, from this machine too)", ErrNoKey)
		}
		return fmt.Errorf("%w (from another machine, /health and /metrics need one, or the metrics token)", ErrNoKey)
	}
	d := sha256.Sum256([]byte(key))
	ok := g.match(d) >= 0
	if g.monitor != nil && subtle.ConstantTimeCompare(d[:], g.monitor) == 1 {
		ok = true
	}
	if !ok {
		return ErrBadKey
	}
	return nil
}

// CheckOrigin refuses requests a browser sends on behalf of another site:
// any Origin that is not the relay itself, a preflight, or a Fetch Metadata
// header saying the request is cross-site. CLIs send none of these.
func CheckOrigin(r *http.Request) error {
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		return ErrOrigin
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return ErrOrigin
	}
	if o := r.Header.Get("Origin"); o != "" {
		if o != "http://"+r.Host && o != "https://"+r.Host {
			return ErrOrigin
		}
	}
	return nil
}

// ClientID finds the client key in x-api-key or Authorization: Bearer and
// returns its id. Every configured key is compared, in constant time, so the
// answer's timing tells nothing about which key or how much of it matched.
// Without keys every request from this machine is Anonymous, and any other
// is refused (ErrLocalOnly): however the relay came to listen beyond
// loopback without keys, it does not answer the network.
func (g *Guard) ClientID(r *http.Request) (string, error) {
	keys := presentedKeys(r)
	if g.open {
		if !IsLoopback(hostOnly(r.RemoteAddr)) {
			return "", ErrLocalOnly
		}
		if match := g.matchAny(keys); match >= 0 {
			return g.ids[match], nil
		}
		return Anonymous, nil
	}
	if keys == ([3]string{}) {
		return "", ErrNoKey
	}
	match := g.matchAny(keys)
	if match < 0 {
		return "", ErrBadKey
	}
	return g.ids[match], nil
}

// matchAny is the index of the client key a request sends in any of the
// places a key goes, or -1. Every place is tried: Claude Code sends both
// x-api-key and Authorization when both its key variables are set (the
// user's exported ANTHROPIC_API_KEY beside the key a project's settings
// give it), and the one Keypool knows is the one that counts; the first
// place wins when several match.
func (g *Guard) matchAny(keys [3]string) int {
	if len(g.digests) == 0 {
		return -1
	}
	match := -1
	for _, key := range keys {
		if key == "" {
			continue
		}
		if m := g.match(sha256.Sum256([]byte(key))); m >= 0 && match < 0 {
			match = m
		}
	}
	return match
}

// presentedKeys is what a request sends in each place a key goes:
// x-api-key, x-goog-api-key (Gemini CLI and Google's SDKs) and
// Authorization: Bearer, in that order ("" where none). An array, so the
// per-request check allocates nothing.
func presentedKeys(r *http.Request) [3]string {
	keys := [3]string{r.Header.Get("X-Api-Key"), r.Header.Get("X-Goog-Api-Key")}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		keys[2] = strings.TrimSpace(a[7:])
	}
	return keys
}

// presented is the first key a request sends, in presentedKeys' order.
func presented(r *http.Request) string {
	for _, k := range presentedKeys(r) {
		if k != "" {
			return k
		}
	}
	return ""
}

// match is the index of the client key with digest d, or -1. Every key is
// compared, in constant time.
func (g *Guard) match(d [sha256.Size]byte) int {
	match := -1
	for i := range g.digests {
		if subtle.ConstantTimeCompare(d[:], g.digests[i][:]) == 1 {
			match = i
		}
	}
	return match
}
