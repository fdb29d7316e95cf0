package ui

import "time"

// waitFor checks cond every few milliseconds until it holds or timeout has
// passed, and reports whether it held. cond runs on the caller's goroutine,
// so it may call t.Fatal.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
