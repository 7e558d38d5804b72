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
