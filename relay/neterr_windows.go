package relay

import "syscall"

// The transport errors the relay names, as Winsock numbers them
// (WSAECONNREFUSED, WSAECONNRESET, WSAEHOSTUNREACH, WSAENETUNREACH):
// Windows reports its own numbers, not the POSIX ones.
const (
	errConnRefused = syscall.Errno(10061)
	errConnReset   = syscall.Errno(10054)
	errHostUnreach = syscall.Errno(10065)
	errNetUnreach  = syscall.Errno(10051)
)
