package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

var _ h1conn.Corker = (*NetStream)(nil)

// Cork implements Corker.
func (s *NetStream) Cork() {
	if s.corked || s.tcp == nil {
		return
	}
	s.corked = true
	s.tcp.SetNoDelay(false)
	s.raw.Control(func(fd uintptr) { netpoll.SetTCP(int(fd), unix.TCP_CORK, true) })
}

// Uncork implements Corker.
func (s *NetStream) Uncork() {
	if !s.corked {
		return
	}
	s.corked = false
	s.raw.Control(func(fd uintptr) { netpoll.SetTCP(int(fd), unix.TCP_CORK, false) })
	s.tcp.SetNoDelay(true)
}

var (
	_ h1conn.Finisher     = (*NetStream)(nil)
	_ h1conn.NoWaitReader = (*NetStream)(nil)
)

// SetFinal implements Finisher.
func (s *NetStream) SetFinal(final bool) { s.final = final }

// finalScratch is the iovec array writevRaw reuses.
type finalScratch = []unix.Iovec

// rawWrite is the write under way through Go's netpoller, kept in the
// stream so that the callback made once per connection (step) needs no
// closure per write: writes allocate nothing.
type rawWrite struct {
	step  func(fd uintptr) bool // s.writeStep, bound once
	bufs  [][]byte              // writev: what is left to write
	file  int                   // sendfile: the source descriptor, or -1
	off   int64                 // sendfile: where the source starts
	n     int64                 // sendfile: bytes to send
	done  int64                 // bytes written so far
	last  time.Time             // when the client last accepted bytes
	sendq int                   // the socket's send queue when last found full (-1: unknown)
	err   error                 // the write's error, once it ends
}

func (s *NetStream) initRaw() { s.w.step = s.writeStep }

// writevRaw writes bufs with writev(2), or sendmsg(2) with MSG_MORE for a
// connection's last output (the kernel keeps the last partial segment
// until the connection's FIN joins it), waiting on Go's netpoller while
// the socket is full. ok is false where it cannot (no raw connection).
func (s *NetStream) writevRaw(bufs [][]byte) (n int64, ok bool, err error) {
	if s.raw == nil {
		return 0, false, nil
	}
	s.w.bufs, s.w.file = bufs, -1
	err = s.push()
	n = s.w.done
	s.w.bufs = nil
	return n, true, err
}

// sendFileRaw sends n bytes of f from off with sendfile(2), waiting on Go's
// netpoller while the socket is full. It does not move f's offset, so f may
// be shared.
func (s *NetStream) sendFileRaw(f http1.File, off, n int64) (written int64, ok bool, err error) {
	ff, isFd := f.(http1.FdFile)
	if s.raw == nil || !isFd {
		return 0, false, nil
	}
	s.w.file, s.w.off, s.w.n = int(ff.Fd()), off, n
	err = s.push()
	return s.w.done, true, err
}

// writeStep is the raw write's callback: it writes without blocking until
// done, failed, or the socket is full (then it returns false, for Go's
// netpoller to wait until the socket takes more).
func (s *NetStream) writeStep(fd uintptr) bool {
	w := &s.w
	var moved int64
	var e error
	if w.file >= 0 {
		for w.done < w.n {
			var m int64
			m, e = netpoll.SendFile(int(fd), w.file, w.off+w.done, w.n-w.done)
			w.done += m
			moved += m
			if e != nil {
				break
			}
		}
	} else {
		moved, w.bufs, e = netpoll.WritevAllNB(int(fd), w.bufs, &s.iov, s.final)
		w.done += moved
	}
	if moved > 0 {
		w.last = time.Now()
	}
	if e == unix.EAGAIN {
		w.sendq = netpoll.SendQueue(int(fd))
		return false
	}
	w.err = e
	return true
}

// push runs the write in s.w until it completes or fails. It fails with
// os.ErrDeadlineExceeded once the client has accepted no byte for
// WriteTimeout; each byte accepted restarts that clock.
func (s *NetStream) push() error {
	w := &s.w
	w.done, w.err, w.sendq, w.last = 0, nil, -1, time.Now()
	for {
		if err := s.SetWriteDeadline(w.last.Add(s.WriteTimeout)); err != nil {
			return err
		}
		err := s.raw.Write(w.step)
		switch {
		case w.err != nil:
			return w.err
		case err == nil:
			return nil
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return err
		case time.Since(w.last) < s.WriteTimeout:
			continue // it moved since the deadline was set: a new one from then
		}
		// The kernel may still be handing the queued bytes to the client
		// without reporting the socket writable (see h1conn.Conn.Expired).
		cur := -1
		s.raw.Control(func(fd uintptr) { cur = netpoll.SendQueue(int(fd)) })
		if w.sendq < 0 || cur < 0 || cur >= w.sendq {
			return err
		}
		w.sendq, w.last = cur, time.Now()
	}
}

// ReadNoWait implements NoWaitReader: it reads what has arrived, without
// waiting and whatever the read deadline.
func (s *NetStream) ReadNoWait(p []byte) (int, error) {
	if s.raw == nil || len(p) == 0 {
		return 0, nil
	}
	var n int
	var e error
	err := s.raw.Control(func(fd uintptr) {
		n, e = netpoll.ReadNB(int(fd), p)
	})
	switch {
	case err != nil:
		return 0, err
	case e == unix.EAGAIN:
		return 0, nil
	case e != nil:
		return 0, e
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// listenerPending reports whether a connection waits in ln's accept queue
// (or whether it cannot tell).
func listenerPending(l net.Listener) bool {
	ln, ok := l.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := ln.SyscallConn()
	if err != nil {
		return true
	}
	ready := true
	rc.Control(func(fd uintptr) {
		ready = netpoll.Pending(int(fd))
	})
	return ready
}
