package app_test

import (
	"runtime"
	"strings"
	"time"
)

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

// goroutinesIn counts the goroutines that are inside fn, a function's full
// name as a stack trace prints it ("keypool/app/tokens.(*Manager).refresh"):
// for a test to see that work it cannot observe otherwise has got that far.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "\n"+fn+"(")
		}
		buf = make([]byte, 2*len(buf))
	}
}
