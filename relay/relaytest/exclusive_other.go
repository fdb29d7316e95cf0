//go:build !windows

package relaytest

// exclusive does nothing where a socket that does not allow address reuse
// keeps every other off its port (see exclusive_windows.go).
func exclusive(int) {}
