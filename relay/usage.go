package relay

import "keypool/relay/record"

// The usage record and its parts are relay/record's, named here too for
// the relay's callers.
type (
	Usage               = record.Usage
	FailoverStep        = record.FailoverStep
	ErrorKind           = record.ErrorKind
	Counts              = record.Counts
	UsageRecord         = record.UsageRecord
	UsageSink           = record.UsageSink
	StoreHealth         = record.StoreHealth
	StoreHealthReporter = record.StoreHealthReporter
)

// The kinds of a failed attempt (see record.ErrorKind).
const (
	ErrorRateLimit  = record.ErrorRateLimit
	ErrorServer     = record.ErrorServer
	ErrorConnection = record.ErrorConnection
	ErrorTimeout    = record.ErrorTimeout
	ErrorAccount    = record.ErrorAccount
	ErrorClient     = record.ErrorClient
)

// statusKind is record.StatusKind.
func statusKind(status int) ErrorKind { return record.StatusKind(status) }
