package relay

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"keypool/relay/failover"
	"keypool/relay/pool"
)

// accountStats counts the attempts made on one account since the relay
// started, by how they ended, and keeps its latest failure. Counting a good
// answer is one atomic add: it is on every request's path.
type accountStats struct {
	requests, errors                       atomic.Int64
	rateLimited, server, connection, timed atomic.Int64
	last                                   atomic.Pointer[Failure]
}

// Failure is an account's latest failed attempt, for people.
type Failure struct {
	Time time.Time `json:"time"`
	Kind ErrorKind `json:"kind"`
	// Message says what happened and names the account, as the client
	// whose request it was was told: "connection refused by account work".
	Message string `json:"message"`
}

// count adds one attempt that ended as kind ("" for a good answer).
func (a *accountStats) count(kind ErrorKind) {
	a.requests.Add(1)
	if kind == "" {
		return
	}
	a.errors.Add(1)
	switch kind {
	case ErrorRateLimit:
		a.rateLimited.Add(1)
	case ErrorServer:
		a.server.Add(1)
	case ErrorConnection:
		a.connection.Add(1)
	case ErrorTimeout:
		a.timed.Add(1)
	}
}

// counts reads the counters. Each is read on its own, so a snapshot taken
// during an attempt may be one count apart: fine for a status display.
func (a *accountStats) counts() Counts {
	return Counts{
		Requests: a.requests.Load(), Errors: a.errors.Load(),
		RateLimited: a.rateLimited.Load(), Server: a.server.Load(),
		Connection: a.connection.Load(), Timeout: a.timed.Load(),
	}
}

// verdictKind is the kind of a failed attempt that the relay left.
func verdictKind(v verdict) ErrorKind {
	if v.status != 0 {
		if k := statusKind(v.status); k != ErrorClient {
			return k
		}
		// A 400 that the failover table pins on the account (no credit,
		// organisation disabled).
		return ErrorAccount
	}
	switch v.Reason {
	case pool.ReasonConnection:
		return ErrorConnection
	case pool.ReasonTimeout:
		return ErrorTimeout
	}
	return ErrorAccount // no credential, or its login was refused
}

// cause says, for the client and the UI, why account id was left:
// "connection refused by account work", "account spare: 429 throttled".
func cause(id string, kind ErrorKind, why string) string {
	if kind == ErrorConnection || kind == ErrorTimeout {
		return why + " by account " + id
	}
	return "account " + id + ": " + why
}

// noAnswer is the verdict for an upstream call that returned no answer.
// waited is how long the relay gave it; idle reports that the relay's own
// timer ended it.
func (s *Server) noAnswer(err error, idle bool, waited time.Duration) failover.Verdict {
	if idle {
		return failover.Timeout(s.now(), s.policy, "no answer within "+waited.String())
	}
	why, timeout := unreachable(err)
	if timeout {
		return failover.Timeout(s.now(), s.policy, why)
	}
	return failover.TransportError(s.now(), s.policy, why)
}

// unreachable says in a few words why a call got no answer, without the
// request's URL, and whether it was a timeout (of a dial, a DNS lookup or a
// TLS handshake).
func unreachable(err error) (why string, timeout bool) {
	var dns *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var ne net.Error
	switch {
	case errors.As(err, &dns):
		switch {
		case dns.IsTimeout:
			return "DNS lookup of " + dns.Name + " timed out", true
		case dns.IsNotFound:
			return "host " + dns.Name + " not found (DNS)", false
		}
		return "DNS lookup of " + dns.Name + " failed: " + dns.Err, false
	case errors.As(err, &certErr):
		return "TLS certificate refused: " + clip(certErr.Err.Error()), false
	case errors.As(err, &recErr):
		return "TLS handshake failed: the server does not speak TLS", false
	case errors.As(err, &alert):
		return "TLS handshake refused by the server: " + alert.Error(), false
	case errors.Is(err, errConnRefused):
		return "connection refused", false
	case errors.Is(err, errConnReset):
		return "connection reset", false
	case errors.Is(err, errHostUnreach), errors.Is(err, errNetUnreach):
		return "host unreachable", false
	case errors.As(err, &ne) && ne.Timeout():
		if strings.Contains(err.Error(), "TLS handshake") {
			return "TLS handshake timed out", true
		}
		return "connect timed out", true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before an answer", false
	}
	msg := shortNetErr(err)
	switch {
	case strings.Contains(msg, "proxyconnect"), strings.Contains(msg, "socks connect"):
		return "proxy failed: " + msg, false
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return "TLS handshake failed: " + msg, false
	case strings.Contains(msg, "actively refused"):
		// Windows reports a refused connection as its own error number.
		return "connection refused", false
	case strings.Contains(msg, "forcibly closed"):
		return "connection reset", false
	}
	return "no connection: " + msg, false
}

// clip shortens an error text for a message line.
func clip(s string) string {
	if len(s) > 160 {
		return s[:160]
	}
	return s
}
