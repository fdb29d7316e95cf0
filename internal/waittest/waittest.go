// Package waittest lets a test wait for a condition instead of sleeping: it
// checks every few milliseconds, up to a bound, so a test is as fast as the
// code allows and still ends when the code never gets there.
package waittest

import (
	"runtime"
	"strings"
	"time"
)

// Until checks cond every few milliseconds until it holds or timeout has
// passed, and reports whether it held. cond runs on the caller's goroutine,
// so it may call t.Fatal.
func Until(timeout time.Duration, cond func() bool) bool {
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

// GoroutinesIn counts the goroutines that are inside fn, a function's full
// name as a stack trace prints it ("keypool/app/tokens.(*Manager).refresh"):
// for a test to see that work it cannot observe otherwise has got that far.
func GoroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "\n"+fn+"(")
		}
		buf = make([]byte, 2*len(buf))
	}
}
