package relaytest

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// DeadAddr refuses every connection, and its port cannot be taken by a
// listener meanwhile.
func TestDeadAddr(t *testing.T) {
	addr, ok := strings.CutPrefix(DeadAddr(), "http://")
	if !ok {
		t.Fatalf("DeadAddr() = %q, want an http:// URL", DeadAddr())
	}
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		refused := syscall.ECONNREFUSED
		if runtime.GOOS == "windows" {
			refused = syscall.Errno(10061) // WSAECONNREFUSED
		}
		if !errors.Is(err, refused) {
			t.Fatalf("dial %s: %v, want connection refused", addr, err)
		}
	}
	_, port, _ := net.SplitHostPort(addr)
	held := []string{addr, ":" + port}
	if runtime.GOOS == "windows" {
		// SO_EXCLUSIVEADDRUSE keeps the wildcard off it there; Wine, where
		// make test-windows runs, does not honour it.
		held = held[:1]
	}
	for _, at := range held {
		if l, err := net.Listen("tcp", at); err == nil {
			l.Close()
			t.Errorf("listen on %s succeeded, want the port held", at)
		}
	}
	if again := DeadAddr(); again != "http://"+addr {
		t.Errorf("DeadAddr() again = %q, want %q (one per process)", again, "http://"+addr)
	}
}
