//go:build unix

package conformance

import "syscall"

// setRcvBuf shrinks a socket's receive buffer (and so the window it
// offers), to make a server meet a full socket.
func setRcvBuf(fd uintptr, n int) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
