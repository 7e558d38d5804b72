// Package goroutine is the engine that serves each connection on its own
// goroutine with blocking-style I/O over Go's netpoller: the coroutine model
// (what gevent's monkey-patching imitates in Python). The runtime multiplexes
// the goroutines over epoll and a few threads.
package goroutine

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/engine/reclaim"
)

// Engine is the goroutine-per-connection engine.
type Engine struct{}

var _ engine.Engine = Engine{}

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, l net.Listener, cfg *engine.Config) error {
	var t engine.Tracker
	var idle reclaim.Set
	slots := make(chan struct{}, cfg.MaxConns)
	// At MaxConns, the accept loop takes no newcomer out of the kernel's
	// backlog until a slot frees: the oldest idle connection is closed to
	// make room, and with none idle, clients wait in the backlog (where
	// another process sharing the listener may take them).
	err := engine.AcceptLoop(ctx, l, cfg, slots, idle.Reclaim, func(nc net.Conn) {
		c := h1conn.New(cfg, engine.RemoteAddrPort(nc), time.Now())
		if _, ok := nc.(*tls.Conn); ok {
			c.SetTLS()
		}
		s := &stream{NetStream: engine.NewNetStream(nc, cfg.WriteTimeout), c: c, idle: &idle}
		s.entry = reclaim.NewEntry(func() { nc.Close() })
		if !t.Add(c, func() { nc.SetReadDeadline(time.Now()) }, func() { nc.Close() }) {
			nc.Close()
			<-slots
			return
		}
		idle.Add(s.entry)
		go func() {
			defer func() {
				idle.Remove(s.entry)
				nc.Close()
				t.Remove(c)
				<-slots
			}()
			h1conn.ServeStream(c, s)
		}()
	})
	// A connection stuck in its handler past the shutdown timeout (and
	// abandonGrace more) is left to finish on its own: Serve returns.
	t.ShutdownAbandon(cfg.ShutdownTimeout, abandonGrace)
	return err
}

// stream is a NetStream whose reads mark the connection idle while it
// waits between requests (see reclaim).
type stream struct {
	*engine.NetStream
	c     *h1conn.Conn
	idle  *reclaim.Set
	entry *reclaim.Entry
}

// Read is called by ServeStream on the connection's goroutine, so its
// Conn may be asked whether it waits between requests.
func (s *stream) Read(p []byte) (int, error) {
	if !s.c.Idle() {
		return s.NetStream.Read(p)
	}
	s.idle.Idle(s.entry, s.c.Fresh(), time.Now())
	n, err := s.NetStream.Read(p)
	s.idle.Busy(s.entry)
	return n, err
}

// abandonGrace is how long Serve waits, after the shutdown timeout has
// cut the connections, for goroutines that are still in a handler.
const abandonGrace = time.Second
