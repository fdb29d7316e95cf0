//go:build !windows

package relay

import "syscall"

// The transport errors the relay names (Windows has its own numbers:
// neterr_windows.go).
const (
	errConnRefused = syscall.ECONNREFUSED
	errConnReset   = syscall.ECONNRESET
	errHostUnreach = syscall.EHOSTUNREACH
	errNetUnreach  = syscall.ENETUNREACH
)
