package netpoll

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Epoll is an edge-triggered epoll(7) instance with an eventfd for
// wake-ups from other goroutines. Connections are registered once for
// input and output edges; listeners level-triggered and, where shared
// between loops, with EPOLLEXCLUSIVE so one loop wakes per connection.
type Epoll struct {
	wakeMu sync.RWMutex // Wake against Close: a late Wake must not write to a reused descriptor
	closed bool
	fd     int
	wake   int
	events []unix.EpollEvent
	file   *os.File        // fd, registered with Go's own netpoller
	rc     syscall.RawConn // to park the loop until fd is readable
	// ready is the callback of rc.Read, made once so that a parked Wait
	// allocates nothing; it leaves its result in n and err.
	ready func(uintptr) bool
	n     int
	err   error
}

// NewEpoll creates an epoll instance.
func NewEpoll() (*Epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	p := &Epoll{fd: fd, wake: wake, events: make([]unix.EpollEvent, 256)}
	p.ready = func(uintptr) bool {
		p.n, p.err = epollWaitNow(p.fd, p.events)
		return p.n != 0 || p.err != nil
	}
	if err := p.ctl(unix.EPOLL_CTL_ADD, wake, unix.EPOLLIN|unix.EPOLLET); err != nil {
		p.Close()
		return nil, err
	}
	// An epoll descriptor is itself pollable: readable while it holds
	// ready events. Registered with Go's netpoller, it lets an idle loop
	// park in the scheduler like any goroutine waiting on a socket, rather
	// than block a thread in epoll_wait.
	if err := unix.SetNonblock(fd, true); err != nil {
		p.Close()
		return nil, os.NewSyscallError("fcntl", err)
	}
	p.file = os.NewFile(uintptr(fd), "epoll")
	if p.rc, err = p.file.SyscallConn(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Epoll) ctl(op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(p.fd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// AddListener registers a listening socket, level-triggered. exclusive
// sets EPOLLEXCLUSIVE, for a listener that several loops share.
func (p *Epoll) AddListener(fd int, exclusive bool) error {
	ev := uint32(unix.EPOLLIN)
	if exclusive {
		ev |= unix.EPOLLEXCLUSIVE
	}
	return p.ctl(unix.EPOLL_CTL_ADD, fd, ev)
}

// Add registers a connection for input and output edges.
func (p *Epoll) Add(fd int) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLRDHUP|unix.EPOLLET)
}

// SetWrite is a no-op: edge-triggered registration already reports the
// socket becoming writable.
func (p *Epoll) SetWrite(fd int, on bool) error { return nil }

// Forget does nothing: closing a descriptor that was never duplicated
// removes it from every epoll set.
func (p *Epoll) Forget(fd int) {}

// Remove unregisters fd.
func (p *Epoll) Remove(fd int) error {
	return p.ctl(unix.EPOLL_CTL_DEL, fd, 0)
}

// Wait waits up to timeout (forever if negative) for events and calls fn
// for each.
func (p *Epoll) Wait(timeout time.Duration, fn func(fd int, in, out, hup bool)) error {
	// Under load events are usually waiting: collect them with a raw,
	// non-blocking call, which skips the scheduler's system-call
	// bookkeeping; only an empty result leads to the blocking wait.
	n, err := epollWaitNow(p.fd, p.events)
	if n == 0 && err == nil && timeout != 0 {
		// Nothing ready: park until the epoll descriptor turns readable
		// or the timeout (if positive) passes.
		if timeout > 0 {
			p.file.SetReadDeadline(time.Now().Add(timeout))
		} else {
			p.file.SetReadDeadline(time.Time{})
		}
		rerr := p.rc.Read(p.ready)
		n, err = p.n, p.err
		if rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded) {
			return rerr
		}
	}
	if err != nil {
		if err == unix.EINTR {
			return nil
		}
		return os.NewSyscallError("epoll_wait", err)
	}
	for i := 0; i < n; i++ {
		ev := &p.events[i]
		fd := int(ev.Fd)
		if fd == p.wake {
			var buf [8]byte
			unix.Read(p.wake, buf[:])
			continue
		}
		e := ev.Events
		fn(fd, e&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0, e&(unix.EPOLLOUT|unix.EPOLLERR) != 0, e&(unix.EPOLLHUP|unix.EPOLLERR) != 0)
	}
	if n == len(p.events) && n < 4096 {
		p.events = make([]unix.EpollEvent, 2*n)
	}
	return nil
}

// epollWaitNow is epoll_wait with a zero timeout, as a raw system call.
func epollWaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		if e == unix.EINTR {
			return 0, nil
		}
		return 0, e
	}
	return int(r), nil
}

// Wake interrupts a Wait from another goroutine.
func (p *Epoll) Wake() error {
	p.wakeMu.RLock()
	defer p.wakeMu.RUnlock()
	if p.closed {
		return nil
	}
	buf := [8]byte{1}
	_, err := unix.Write(p.wake, buf[:])
	if err == unix.EAGAIN {
		return nil // already pending
	}
	return err
}

// Close releases the instance.
func (p *Epoll) Close() error {
	p.wakeMu.Lock()
	p.closed = true
	p.wakeMu.Unlock()
	unix.Close(p.wake)
	if p.file != nil {
		return p.file.Close()
	}
	return unix.Close(p.fd)
}
