package relaytest

import "syscall"

// exclusive keeps other sockets off the port on Windows, where a bind to
// every address is allowed beside one to 127.0.0.1 unless the first socket
// asks for it alone (SO_EXCLUSIVEADDRUSE, which is ^SO_REUSEADDR).
func exclusive(fd syscall.Handle) {
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, ^syscall.SO_REUSEADDR, 1)
}
