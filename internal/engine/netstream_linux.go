package engine

import (
	"golang.org/x/sys/unix"

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

var _ Finisher = (*NetStream)(nil)

// SetFinal implements Finisher.
func (s *NetStream) SetFinal(final bool) { s.final = final }

// finalScratch is writevFinal's iovec array, kept for reuse.
type finalScratch = []unix.Iovec

// writevFinal writes bufs with sendmsg(2) and MSG_MORE, waiting on Go's
// netpoller while the socket is full: the kernel keeps the last partial
// segment until the connection's FIN joins it. ok is false where it
// cannot (no raw connection).
func (s *NetStream) writevFinal(bufs [][]byte) (n int64, ok bool, err error) {
	if s.raw == nil {
		return 0, false, nil
	}
	var serr error
	err = s.raw.Write(func(fd uintptr) bool {
		m, rest, e := netpoll.WritevAllNB(int(fd), bufs, &s.iov, true)
		n, bufs = n+m, rest
		if e == unix.EAGAIN {
			return false // wait until the socket takes more
		}
		serr = e
		return true
	})
	if serr != nil {
		err = serr
	}
	return n, true, err
}
