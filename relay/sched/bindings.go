package sched

import "time"

// Binding ties a session to the account holding its prompt cache.
type Binding struct {
	Account string    `json:"account"`
	Expires time.Time `json:"expires"`
	// Profile names the profile the conversation was served under, if any.
	Profile string `json:"profile,omitempty"`
}

// Bindings stores session bindings. Implementations must be safe for
// concurrent use and must not block on disk: Put may persist in the background.
type Bindings interface {
	Get(session string) (Binding, bool)
	Put(session string, b Binding)
}
