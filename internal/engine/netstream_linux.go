package engine

import (
	"errors"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

var _ Corker = (*NetStream)(nil)

// Cork implements Corker.
func (s *NetStream) Cork() {
	if s.corked || s.raw == nil {
		return
	}
	s.corked = true
	s.TCPConn.SetNoDelay(false)
	s.raw.Control(func(fd uintptr) { netpoll.SetTCP(int(fd), unix.TCP_CORK, true) })
}

// Uncork implements Corker.
func (s *NetStream) Uncork() {
	if !s.corked {
		return
	}
	s.corked = false
	s.raw.Control(func(fd uintptr) { netpoll.SetTCP(int(fd), unix.TCP_CORK, false) })
	s.TCPConn.SetNoDelay(true)
}

var (
	_ Finisher     = (*NetStream)(nil)
	_ NoWaitReader = (*NetStream)(nil)
)

// SetFinal implements Finisher.
func (s *NetStream) SetFinal(final bool) { s.final = final }

// finalScratch is the iovec array writevRaw reuses.
type finalScratch = []unix.Iovec

// writevRaw writes bufs with writev(2), or sendmsg(2) with MSG_MORE for a
// connection's last output (the kernel keeps the last partial segment
// until the connection's FIN joins it), waiting on Go's netpoller while
// the socket is full. ok is false where it cannot (no raw connection).
func (s *NetStream) writevRaw(bufs [][]byte) (n int64, ok bool, err error) {
	if s.raw == nil {
		return 0, false, nil
	}
	err = s.push(func(fd int) (bool, error) {
		m, rest, e := netpoll.WritevAllNB(fd, bufs, &s.iov, s.final)
		n, bufs = n+m, rest
		return m > 0, e
	})
	return n, true, err
}

// sendFileRaw sends n bytes of f from off with sendfile(2), waiting on Go's
// netpoller while the socket is full. It does not move f's offset, so f may
// be shared.
func (s *NetStream) sendFileRaw(f http1.File, off, n int64) (written int64, ok bool, err error) {
	if s.raw == nil {
		return 0, false, nil
	}
	src := int(f.Fd())
	err = s.push(func(fd int) (bool, error) {
		moved := false
		for written < n {
			m, e := netpoll.SendFile(fd, src, off+written, n-written)
			written += m
			moved = moved || m > 0
			if e != nil {
				return moved, e
			}
		}
		return moved, nil
	})
	return written, true, err
}

// push runs op, a non-blocking write that reports whether it moved bytes,
// until it completes or fails, waiting on Go's netpoller whenever it meets
// a full socket (unix.EAGAIN). It fails with os.ErrDeadlineExceeded once
// the client has accepted no byte for WriteTimeout; each byte accepted
// restarts that clock.
func (s *NetStream) push(op func(fd int) (moved bool, err error)) error {
	last := time.Now()
	sendq := -1 // the send queue when the socket was last found full
	for {
		if err := s.SetWriteDeadline(last.Add(s.WriteTimeout)); err != nil {
			return err
		}
		var serr error
		err := s.raw.Write(func(fd uintptr) bool {
			moved, e := op(int(fd))
			if moved {
				last = time.Now()
			}
			if e == unix.EAGAIN {
				sendq = netpoll.SendQueue(int(fd))
				return false // wait until the socket takes more
			}
			serr = e
			return true
		})
		switch {
		case serr != nil:
			return serr
		case err == nil:
			return nil
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return err
		case time.Since(last) < s.WriteTimeout:
			continue // it moved since the deadline was set: a new one from then
		}
		// The kernel may still be handing the queued bytes to the client
		// without reporting the socket writable (see Conn.Expired).
		var cur int
		s.raw.Control(func(fd uintptr) { cur = netpoll.SendQueue(int(fd)) })
		if sendq < 0 || cur < 0 || cur >= sendq {
			return err
		}
		sendq, last = cur, time.Now()
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
