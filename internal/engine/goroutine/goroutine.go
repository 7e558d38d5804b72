// Package goroutine is the engine that serves each connection on its own
// goroutine with blocking-style I/O over Go's netpoller: the coroutine model
// (what gevent's monkey-patching imitates in Python). The runtime multiplexes
// the goroutines over epoll and a few threads.
package goroutine

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/weft-server/weft/internal/engine"
)

// Engine is the goroutine-per-connection engine.
type Engine struct{}

var _ engine.Engine = Engine{}

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, ln *net.TCPListener, cfg *engine.Config) error {
	var t engine.Tracker
	slots := make(chan struct{}, cfg.MaxConns)
	// At MaxConns, stop accepting until a connection ends: clients wait
	// in the kernel's backlog instead of being refused.
	err := engine.AcceptLoop(ctx, ln, cfg, slots, func(nc *net.TCPConn) {
		c := engine.NewConn(cfg, remoteAddrPort(nc), time.Now())
		s := engine.NewNetStream(nc, cfg.WriteTimeout)
		if !t.Add(c, func() { nc.SetReadDeadline(time.Now()) }, func() { nc.Close() }) {
			nc.Close()
			<-slots
			return
		}
		go func() {
			defer func() {
				nc.Close()
				t.Remove(c)
				<-slots
			}()
			engine.ServeStream(c, s)
		}()
	})
	t.Shutdown(cfg.ShutdownTimeout)
	return err
}

// remoteAddrPort is nc's peer address, or the zero value when the system
// did not report one: RemoteAddr may be nil (golang/go#23022), and the
// connection is still served.
func remoteAddrPort(nc *net.TCPConn) netip.AddrPort {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok && a != nil {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}
