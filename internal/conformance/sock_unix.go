//go:build unix

package conformance

import (
	"net"
	"syscall"
)

// setRcvBuf shrinks a socket's receive buffer (and so the window it
// offers), to make a server meet a full socket.
func setRcvBuf(fd uintptr, n int) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}

// ClosedByServer reports whether the server has closed c (a FIN or a
// reset is waiting), without blocking: a connection closed before a
// request was written is not a lost request. (A read with a deadline in
// the past would not do: Go returns the timeout without reading.)
func ClosedByServer(c net.Conn) bool {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = err != syscall.EAGAIN || n > 0 // n > 0: bytes nobody asked for
	})
	return closed
}
