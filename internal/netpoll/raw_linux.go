package netpoll

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The functions here are for event loops on non-blocking sockets: raw
// system calls that cannot block, made without the scheduler's
// bookkeeping (entersyscall/exitsyscall), which would otherwise hand the
// loop's P to another thread whenever a call takes more than a few
// microseconds. They never allocate.

// AcceptNB accepts one connection from the non-blocking listener lfd; the
// new socket is non-blocking and close-on-exec. Unlike unix.Accept4 it
// does not query the listener's protocol with getsockopt on every call.
func AcceptNB(lfd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	fd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, e
	}
	return int(fd), rawAddrPort(&rsa), nil
}

// PeerNB returns the address of a socket's peer (getpeername), or the zero
// AddrPort if it cannot tell.
func PeerNB(fd int) netip.AddrPort {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return netip.AddrPort{}
	}
	return rawAddrPort(&rsa)
}

func rawAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), ntohs(a.Port))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), ntohs(a.Port))
	}
	return netip.AddrPort{}
}

func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// ReadNB reads from a non-blocking socket.
func ReadNB(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// WritevNB writes bufs to a non-blocking socket with writev(2), using iov
// as scratch space (grown as needed and returned for reuse). With more
// set it is sendmsg(2) with MSG_MORE instead: the kernel holds a partial
// segment back as if the socket were corked for this one call, so the
// last response on a connection leaves in one segment with the FIN that
// close or shutdown adds.
func WritevNB(fd int, bufs [][]byte, iov []unix.Iovec, more bool) (int, []unix.Iovec, error) {
	iov = iov[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
		if len(iov) == 1024 { // IOV_MAX
			break
		}
	}
	if len(iov) == 0 {
		return 0, iov, nil
	}
	var n uintptr
	var e unix.Errno
	if more {
		msg := unix.Msghdr{Iov: &iov[0]}
		msg.SetIovlen(len(iov))
		n, _, e = unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_MORE|unix.MSG_NOSIGNAL)
	} else {
		n, _, e = unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	}
	if e != 0 {
		return 0, iov, e
	}
	return int(n), iov, nil
}

// WritevAllNB calls WritevNB until bufs are written or a call fails
// (unix.EAGAIN included, for the caller to wait its own way), retrying
// EINTR. It returns how much it wrote and what is left; *iov is the
// scratch space WritevNB reuses.
func WritevAllNB(fd int, bufs [][]byte, iov *[]unix.Iovec, more bool) (int64, [][]byte, error) {
	var total int64
	for len(bufs) > 0 {
		n, v, err := WritevNB(fd, bufs, *iov, more)
		*iov = v
		if n > 0 {
			total += int64(n)
			bufs = Advance(bufs, n)
		}
		if err != nil && err != unix.EINTR {
			return total, bufs, err
		}
	}
	return total, nil, nil
}

// ShutdownWriteNB sends a socket's FIN after what is queued, at once.
func ShutdownWriteNB(fd int) {
	unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), unix.SHUT_WR, 0)
}

// CloseNB closes a socket without SO_LINGER, which does not block.
func CloseNB(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// SetTCP sets the boolean TCP-level option opt (TCP_NODELAY, TCP_CORK) on
// a socket.
func SetTCP(fd, opt int, on bool) {
	v := int32(0)
	if on {
		v = 1
	}
	unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
}

// TCPOpts keeps TCP_NODELAY and TCP_CORK of one socket consistent:
// TCP_NODELAY marks frames for pushing and defeats the cork, so it is off
// while corked and restored after. Not safe for concurrent use.
type TCPOpts struct {
	FD      int
	NoDelay bool // TCP_NODELAY is wanted (it is on unless corked)
	corked  bool
}

// SetNoDelay turns TCP_NODELAY on (at once, or when uncorked).
func (o *TCPOpts) SetNoDelay() {
	if !o.NoDelay {
		o.NoDelay = true
		if !o.corked {
			SetTCP(o.FD, unix.TCP_NODELAY, true)
		}
	}
}

// Corked reports whether the socket is corked.
func (o *TCPOpts) Corked() bool { return o.corked }

// Cork holds back partial segments until Uncork.
func (o *TCPOpts) Cork() {
	if !o.corked {
		o.corked = true
		if o.NoDelay {
			SetTCP(o.FD, unix.TCP_NODELAY, false)
		}
		SetTCP(o.FD, unix.TCP_CORK, true)
	}
}

// Uncork sends what the cork held back and restores TCP_NODELAY.
func (o *TCPOpts) Uncork() {
	if o.corked {
		o.corked = false
		SetTCP(o.FD, unix.TCP_CORK, false)
		if o.NoDelay {
			SetTCP(o.FD, unix.TCP_NODELAY, true)
		}
	}
}
