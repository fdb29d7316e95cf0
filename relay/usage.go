package relay

import (
	"fmt"
	"strings"
	"time"

	"keypool/relay/pool"
)

// Usage is the token count of one answer, as the provider reported it.
type Usage = pool.Usage

// FailoverStep is one account the relay tried and left, and why.
type FailoverStep struct {
	Account string `json:"account"`
	Status  int    `json:"status,omitempty"` // upstream status; 0 for a transport error
	Reason  string `json:"reason"`
}

// UsageRecord describes one request that went through the relay. It holds no
// secret: the client key is named by its id, never by its value.
type UsageRecord struct {
	Time     time.Time      `json:"time"`
	Route    string         `json:"route"`
	ClientID string         `json:"client"` // local key id, or "anonymous"
	Account  string         `json:"account,omitempty"`
	Model    string         `json:"model,omitempty"`
	Stream   bool           `json:"stream,omitempty"`
	Status   int            `json:"status"`
	Usage    Usage          `json:"usage"`
	TTFB     time.Duration  `json:"ttfb_ns"`
	Duration time.Duration  `json:"duration_ns"`
	Failover []FailoverStep `json:"failover,omitempty"`
	Error    string         `json:"error,omitempty"` // short, secret-free reason when the request failed
	// CostUSD is the request's price (the API-equivalent price for a
	// subscription), set by the usage sink from its price table.
	CostUSD float64 `json:"cost_usd,omitempty"`
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
