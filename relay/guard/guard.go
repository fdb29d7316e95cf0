// Package guard decides who may use the relay: a loopback Host (so a DNS
// rebinding page cannot reach it), no browser cross-origin request, and one
// of the configured local client keys, compared in constant time.
package guard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
)

// Anonymous is the client id of requests when no keys are configured.
const Anonymous = "anonymous"

// Errors a check returns; the relay renders them in the client's protocol.
var (
	ErrHost   = errors.New("host not allowed: the relay answers only to loopback names (localhost, 127.0.0.1, [::1])")
	ErrOrigin = errors.New("cross-origin browser requests are not allowed")
	ErrNoKey  = errors.New("missing client key: send one of the relay's api_keys as x-api-key, x-goog-api-key or Authorization: Bearer")
	ErrBadKey = errors.New("invalid client key")
)

// Guard checks requests. It is safe for concurrent use.
type Guard struct {
	digests [][sha256.Size]byte
	ids     []string
	anyHost bool
}

// New builds a guard for the given client keys (none: open, every client is
// Anonymous) and the host the relay listens on: a non-loopback listen host
// accepts any Host header.
func New(keys []string, listenHost string) *Guard {
	g := &Guard{anyHost: !IsLoopback(listenHost)}
	for _, k := range keys {
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

// CheckHost refuses a Host header that is not a loopback name, unless the
// relay listens on a non-loopback address on purpose.
func (g *Guard) CheckHost(r *http.Request) error {
	if g.anyHost {
		return nil
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !IsLoopback(host) {
		return ErrHost
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
func (g *Guard) ClientID(r *http.Request) (string, error) {
	if len(g.digests) == 0 {
		return Anonymous, nil
	}
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		key = r.Header.Get("X-Goog-Api-Key") // Gemini CLI and Google's SDKs
	}
	if key == "" {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			key = strings.TrimSpace(a[7:])
		}
	}
	if key == "" {
		return "", ErrNoKey
	}
	d := sha256.Sum256([]byte(key))
	match := -1
	for i := range g.digests {
		if subtle.ConstantTimeCompare(d[:], g.digests[i][:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return "", ErrBadKey
	}
	return g.ids[match], nil
}
