package netpoll

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Poll is readiness polling with poll(2): every descriptor is handed to the
// kernel on every turn, so a turn costs O(connections). Level-triggered:
// a connection asks for output readiness only while it has bytes to send.
type Poll struct {
	wakeMu sync.RWMutex // Wake against Close: a late Wake must not write to a reused descriptor
	closed bool
	fds    []unix.PollFd
	ready  []unix.PollFd // Wait's snapshot of the ready ones, reused
	index  map[int]int   // fd → position in fds
	wake   [2]int        // a pipe for wake-ups
}

// NewPoll creates a poll set.
func NewPoll() (*Poll, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	p := &Poll{index: make(map[int]int), wake: fds}
	p.add(fds[0], unix.POLLIN)
	return p, nil
}

func (p *Poll) add(fd int, events int16) {
	p.index[fd] = len(p.fds)
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: events})
}

// AddListener registers a listening socket.
func (p *Poll) AddListener(fd int, exclusive bool) error {
	p.add(fd, unix.POLLIN)
	return nil
}

// Add registers a connection for input.
func (p *Poll) Add(fd int) error {
	p.add(fd, unix.POLLIN|unix.POLLRDHUP)
	return nil
}

// SetWrite turns interest in output readiness on or off.
func (p *Poll) SetWrite(fd int, on bool) error {
	i, ok := p.index[fd]
	if !ok {
		return nil
	}
	if on {
		p.fds[i].Events |= unix.POLLOUT
	} else {
		p.fds[i].Events &^= unix.POLLOUT
	}
	return nil
}

// Forget unregisters a descriptor about to be closed.
func (p *Poll) Forget(fd int) { p.Remove(fd) }

// Remove unregisters fd.
func (p *Poll) Remove(fd int) error {
	i, ok := p.index[fd]
	if !ok {
		return nil
	}
	last := len(p.fds) - 1
	p.fds[i] = p.fds[last]
	p.index[int(p.fds[i].Fd)] = i
	p.fds = p.fds[:last]
	delete(p.index, fd)
	return nil
}

// Wait polls every registered descriptor, up to timeout (forever if
// negative), and calls fn for each that is ready.
func (p *Poll) Wait(timeout time.Duration, fn func(fd int, in, out, hup bool)) error {
	ms := int(timeout / time.Millisecond)
	if timeout > 0 && ms == 0 {
		ms = 1
	}
	if timeout < 0 {
		ms = -1
	}
	n, err := unix.Poll(p.fds, ms)
	if err != nil {
		if err == unix.EINTR {
			return nil
		}
		return os.NewSyscallError("poll", err)
	}
	if n == 0 {
		return nil
	}
	// fn may Remove descriptors (swapping the last into place) or Add
	// them; walk a snapshot of the ready ones.
	ready := p.ready[:0]
	for _, pf := range p.fds {
		if pf.Revents != 0 {
			ready = append(ready, pf)
		}
	}
	p.ready = ready
	for _, pf := range ready {
		fd, re := int(pf.Fd), pf.Revents
		if fd == p.wake[0] {
			var buf [64]byte
			unix.Read(fd, buf[:])
			continue
		}
		if _, still := p.index[fd]; !still {
			continue
		}
		fn(fd, re&(unix.POLLIN|unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0, re&(unix.POLLOUT|unix.POLLERR) != 0, re&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0)
	}
	return nil
}

// Wake interrupts a Wait from another goroutine.
func (p *Poll) Wake() error {
	p.wakeMu.RLock()
	defer p.wakeMu.RUnlock()
	if p.closed {
		return nil
	}
	_, err := unix.Write(p.wake[1], []byte{1})
	if err == unix.EAGAIN {
		return nil
	}
	return err
}

// Close releases the wake-up pipe.
func (p *Poll) Close() error {
	p.wakeMu.Lock()
	p.closed = true
	p.wakeMu.Unlock()
	unix.Close(p.wake[1])
	return unix.Close(p.wake[0])
}

// Pending reports whether a connection waits in the accept queue of the
// listening socket fd, or whether it cannot tell (then true). A poll cut
// short by a signal (EINTR: Go's runtime preempts goroutines with SIGURG)
// is asked again: taken for "a newcomer waits", it made engines at
// --max-conns close an idle connection for nobody.
func Pending(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	for err == unix.EINTR {
		n, err = unix.Poll(pfd, 0)
	}
	return err != nil || n > 0
}

// WaitFD waits, up to timeout, for the socket fd to have input (or, with
// write, room for output), for a goroutine that reads or writes a
// non-blocking socket as if it were blocking. It blocks its thread in
// poll(2), through the scheduler (which hands the P on meanwhile). It
// returns nil when the socket is ready or the time is up (the caller's
// next try tells which), and on EINTR.
func WaitFD(fd int, write bool, timeout time.Duration) error {
	ev := int16(unix.POLLIN)
	if write {
		ev = unix.POLLOUT
	}
	ms := int((timeout + time.Millisecond - 1) / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: ev}}, ms)
	if err != nil && err != unix.EINTR {
		return os.NewSyscallError("poll", err)
	}
	return nil
}
