package waittest

import (
	"sync"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	n := 0
	if !Until(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Until a condition that holds on the 3rd check: n = %d, want 3 and true", n)
	}
	if Until(30*time.Millisecond, func() bool { return false }) {
		t.Error("Until a condition that never holds = true, want false")
	}
}

func parked(release <-chan struct{}) { <-release }

func TestGoroutinesIn(t *testing.T) {
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); parked(release) }()
	}
	const fn = "keypool/internal/waittest.parked"
	if !Until(5*time.Second, func() bool { return GoroutinesIn(fn) == 3 }) {
		t.Errorf("GoroutinesIn(%s) = %d, want 3", fn, GoroutinesIn(fn))
	}
	close(release)
	wg.Wait()
	if got := GoroutinesIn(fn); got != 0 {
		t.Errorf("after release: GoroutinesIn(%s) = %d, want 0", fn, got)
	}
}
