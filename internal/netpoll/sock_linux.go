package netpoll

import (
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ListenerFD returns a duplicate of ln's descriptor, in the given blocking
// mode, for engines that do their own system calls. The caller closes it.
func ListenerFD(ln interface{ File() (*os.File, error) }, nonblocking bool) (int, error) {
	f, err := ln.File()
	if err != nil {
		return -1, err
	}
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return -1, os.NewSyscallError("dup", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, nonblocking); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

// Accept accepts one connection from lfd, with TCP_NODELAY set, and
// returns it with its peer address formatted as host:port.
func Accept(lfd int, nonblocking bool) (int, string, error) {
	flags := unix.SOCK_CLOEXEC
	if nonblocking {
		flags |= unix.SOCK_NONBLOCK
	}
	fd, sa, err := unix.Accept4(lfd, flags)
	if err != nil {
		return -1, "", err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return fd, SockaddrString(sa), nil
}

// SockaddrString formats an IPv4 or IPv6 socket address as host:port.
func SockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	return "unknown"
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
