package relay

import (
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
