package netpoll

import (
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ListenerFD returns a duplicate of ln's descriptor, in the given blocking
// mode, for engines that do their own system calls. The caller closes it.
//
// It never calls os.File.Fd, which would switch the socket to blocking
// mode: the mode belongs to the open file description, which a prefork
// supervisor and its workers share, so one process flipping it would make
// another's event loop block in accept(2).
func ListenerFD(ln syscall.Conn, nonblocking bool) (int, error) {
	fd, err := DupFD(ln)
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, nonblocking); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

// Accept accepts one connection from lfd and returns it with its peer's
// address. Blocking sockets get TCP_NODELAY at once; event loops set it
// when a connection is kept alive.
func Accept(lfd int, nonblocking bool) (int, netip.AddrPort, error) {
	flags := unix.SOCK_CLOEXEC
	if nonblocking {
		flags |= unix.SOCK_NONBLOCK
	}
	fd, sa, err := unix.Accept4(lfd, flags)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	if !nonblocking {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	return fd, SockaddrAddrPort(sa), nil
}

// SockaddrAddrPort converts an IPv4 or IPv6 socket address.
func SockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// Writev writes bufs with writev(2), retrying on EINTR.
func Writev(fd int, bufs [][]byte) (int, error) {
	for {
		n, err := unix.Writev(fd, bufs)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// TemporaryAcceptError reports accept errors that pass: too many open
// files, a connection aborted before it was accepted, no buffers.
func TemporaryAcceptError(err error) bool {
	switch err {
	case unix.EMFILE, unix.ENFILE, unix.ECONNABORTED, unix.ENOBUFS, unix.ENOMEM, unix.EPROTO, unix.EINTR:
		return true
	}
	return false
}

// DeferAccept asks the kernel to complete accept(2) on lfd only once the
// client has sent data (TCP_DEFER_ACCEPT, like nginx's "deferred"), so the
// first read after accept finds the request instead of EAGAIN. Clients
// that send nothing are handed over after about secs seconds.
func DeferAccept(lfd, secs int) error {
	return unix.SetsockoptInt(lfd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, secs)
}
