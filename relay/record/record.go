// Package record is what the relay reports of each request: the usage
// record a sink receives, how attempts failed and their counts, and how a
// sink says its records reach the disk. It is a leaf, so the store can
// keep records without importing the relay.
package record

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keypool/relay/pool"
)

// Usage is the token count of one answer, as the provider reported it.
type Usage = pool.Usage

// FailoverStep is one account the relay tried and left, and why.
type FailoverStep struct {
	Account string    `json:"account"`
	Status  int       `json:"status,omitempty"` // upstream status; 0 for a transport error
	Reason  string    `json:"reason"`
	Kind    ErrorKind `json:"kind,omitempty"` // how the attempt failed
}

// Outcome is how the attempt failed. Steps written before kinds were kept
// have it from their status (0: no answer).
func (f FailoverStep) Outcome() ErrorKind {
	if f.Kind != "" {
		return f.Kind
	}
	return StatusKind(f.Status)
}

// ErrorKind says how one attempt on an account went wrong. The per-account
// counts break errors down by the first four; the others are errors all the
// same.
type ErrorKind string

const (
	ErrorRateLimit  ErrorKind = "429"        // throttled or out of quota
	ErrorServer     ErrorKind = "5xx"        // the upstream answered 5xx (529 overloaded included)
	ErrorConnection ErrorKind = "connection" // refused, reset, DNS, TLS or proxy failure, or a broken answer
	ErrorTimeout    ErrorKind = "timeout"    // no answer (or no more of it) within the header or idle timeout
	ErrorAccount    ErrorKind = "account"    // the account itself: key refused (401/403), no credit (402), no credential
	ErrorClient     ErrorKind = "client"     // a 4xx the request caused, passed to the client
)

// StatusKind is the kind of an attempt that ended with an upstream answer
// of status passed to the client (or, for a record written before kinds were
// kept, the record's status, where 0 meant no answer). A client that left
// (499) is no error of the account's.
func StatusKind(status int) ErrorKind {
	switch {
	case status == 0:
		return ErrorConnection
	case status < 400 || status == 499:
		return ""
	case status == http.StatusTooManyRequests:
		return ErrorRateLimit
	case status == http.StatusRequestTimeout:
		return ErrorTimeout
	case status >= 500:
		return ErrorServer
	case status == http.StatusUnauthorized || status == http.StatusPaymentRequired || status == http.StatusForbidden:
		return ErrorAccount
	}
	return ErrorClient
}

// Counts are the attempts made on one account and how many failed, by
// kind. A request that failed over counts once on each account it tried.
type Counts struct {
	Requests    int64 `json:"requests"`                    // attempts sent to the account
	Errors      int64 `json:"errors"`                      // attempts that failed, whatever the kind
	RateLimited int64 `json:"errors_429,omitempty"`        // ErrorRateLimit
	Server      int64 `json:"errors_5xx,omitempty"`        // ErrorServer
	Connection  int64 `json:"errors_connection,omitempty"` // ErrorConnection
	Timeout     int64 `json:"errors_timeout,omitempty"`    // ErrorTimeout
}

// Count adds one attempt that ended as kind ("" for a good answer).
func (c *Counts) Count(kind ErrorKind) {
	c.Requests++
	if kind == "" {
		return
	}
	c.Errors++
	switch kind {
	case ErrorRateLimit:
		c.RateLimited++
	case ErrorServer:
		c.Server++
	case ErrorConnection:
		c.Connection++
	case ErrorTimeout:
		c.Timeout++
	}
}

// Plus sums two counts.
func (c Counts) Plus(o Counts) Counts {
	return Counts{
		Requests: c.Requests + o.Requests, Errors: c.Errors + o.Errors,
		RateLimited: c.RateLimited + o.RateLimited, Server: c.Server + o.Server,
		Connection: c.Connection + o.Connection, Timeout: c.Timeout + o.Timeout,
	}
}

// ErrorText is the errors in words, by kind: "3 (2 connection, 1 429)",
// or "0".
func (c Counts) ErrorText() string {
	s := strconv.FormatInt(c.Errors, 10)
	var parts []string
	for _, k := range [...]struct {
		n    int64
		name ErrorKind
	}{{c.Connection, ErrorConnection}, {c.Timeout, ErrorTimeout}, {c.RateLimited, ErrorRateLimit}, {c.Server, ErrorServer}} {
		if k.n > 0 {
			parts = append(parts, strconv.FormatInt(k.n, 10)+" "+string(k.name))
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// UsageRecord describes one request that went through the relay. It holds no
// secret: the client key is named by its id, never by its value.
type UsageRecord struct {
	Time     time.Time `json:"time"`
	Route    string    `json:"route"`
	ClientID string    `json:"client"` // local key id, or "anonymous"
	// Account is the account the request last went to: the one that
	// answered, or the last one that failed. Empty only when the request
	// reached no account.
	Account  string        `json:"account,omitempty"`
	Model    string        `json:"model,omitempty"`
	Stream   bool          `json:"stream,omitempty"`
	Status   int           `json:"status"`
	Usage    Usage         `json:"usage"`
	TTFB     time.Duration `json:"ttfb_ns"`
	Duration time.Duration `json:"duration_ns"`
	// Failover lists the accounts tried and left before Account, in order.
	Failover []FailoverStep `json:"failover,omitempty"`
	Error    string         `json:"error,omitempty"` // short, secret-free reason when the request failed
	// ErrorKind is how the attempt on Account failed; empty when it did
	// not, or when the request reached no account (Account is empty then,
	// and Error says why).
	ErrorKind ErrorKind `json:"error_kind,omitempty"`
	// CostUSD is the request's price (the API-equivalent price for a
	// subscription), set by the usage sink from its price table.
	CostUSD float64 `json:"cost_usd,omitempty"`
	// Profile names the profile whose key the client presented, if any.
	Profile string `json:"profile,omitempty"`
	// Paid: the answer was billed per token (an API key, or a
	// subscription's paid extra usage), not served within a plan.
	Paid bool `json:"paid,omitempty"`
}

// Outcome is how the attempt on r.Account ended ("" well), for counting.
// Records written before kinds were kept have it from their status.
func (r *UsageRecord) Outcome() ErrorKind {
	if r.ErrorKind != "" {
		return r.ErrorKind
	}
	return StatusKind(r.Status)
}

// EndOnLastTried makes the last account left the record's account, for a
// request that ends with no answer: the record is told under the account it
// last went to, and the others stay in Failover. It returns how that
// attempt failed ("" if no account was tried).
func (r *UsageRecord) EndOnLastTried() ErrorKind {
	n := len(r.Failover)
	if n == 0 {
		return ""
	}
	last := r.Failover[n-1]
	r.Failover = r.Failover[:n-1]
	r.Account, r.ErrorKind = last.Account, last.Outcome()
	return r.ErrorKind
}

// UsageSink receives a record per finished request. Record is called on the
// request's goroutine and must not block: implementations queue the record.
type UsageSink interface {
	Record(UsageRecord)
}

// StoreHealth says whether a usage sink's records reach its disk. The zero
// value means all is well.
type StoreHealth struct {
	// Error is why commits fail (disk full, read-only file system); empty
	// while they work.
	Error string `json:"error,omitempty"`
	// Since is when commits started failing.
	Since time.Time `json:"since,omitzero"`
	// Held is how many writes wait in memory for the disk.
	Held int `json:"held,omitempty"`
	// Lost counts usage records given up since start.
	Lost uint64 `json:"lost,omitempty"`
	// JournalError is why the crash journal cannot be written; while it is
	// set, held writes would not survive a crash.
	JournalError string `json:"journal_error,omitempty"`
}

// OK reports whether nothing is wrong.
func (h StoreHealth) OK() bool {
	return h.Error == "" && h.Held == 0 && h.Lost == 0 && h.JournalError == ""
}

// Summary is one line for people: what is wrong and what it costs.
func (h StoreHealth) Summary() string {
	var parts []string
	if h.Error != "" {
		parts = append(parts, fmt.Sprintf("cannot save usage (%s); %d records held in memory and retried", h.Error, h.Held))
	} else if h.Held > 0 {
		parts = append(parts, fmt.Sprintf("%d usage records waiting to be saved", h.Held))
	}
	if h.JournalError != "" {
		parts = append(parts, "crash journal unwritable ("+h.JournalError+")")
	}
	if h.Lost > 0 {
		parts = append(parts, fmt.Sprintf("%d usage records lost since start", h.Lost))
	}
	return strings.Join(parts, "; ")
}

// StoreHealthReporter is implemented by a UsageSink that can say whether
// its records reach the disk; /health includes its report when it is not OK.
type StoreHealthReporter interface {
	StoreHealth() StoreHealth
}
