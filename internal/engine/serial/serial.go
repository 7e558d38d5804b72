// Package serial is the engine that serves one connection at a time with
// blocking I/O: the tutorial's first server. While it serves one client,
// others wait in the kernel's accept backlog, so a slow or idle client
// blocks everyone (head-of-line blocking). To give the next client a turn,
// an idle keep-alive connection is closed after at most MaxIdle.
package serial

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/weft-server/weft/internal/engine"
)

// MaxIdle caps the keep-alive idle timeout under this engine.
const MaxIdle = time.Second

// Engine is the one-connection-at-a-time engine.
type Engine struct{}

var _ engine.Engine = Engine{}

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, ln *net.TCPListener, cfg *engine.Config) error {
	c := *cfg
	c.IdleTimeout = min(c.IdleTimeout, MaxIdle)
	var t engine.Tracker
	done := make(chan struct{})
	// Shutdown must reach a connection being served, so the drain runs
	// beside the loop; the loop itself stays strictly serial.
	go func() {
		<-ctx.Done()
		t.Shutdown(c.ShutdownTimeout)
		close(done)
	}()
	err := engine.AcceptLoop(ctx, ln, &c, nil, func(nc *net.TCPConn) {
		conn := engine.NewConn(&c, remoteAddrPort(nc), time.Now())
		defer nc.Close()
		if !t.Add(conn, func() { nc.SetReadDeadline(time.Now()) }, func() { nc.Close() }) {
			return
		}
		defer t.Remove(conn)
		engine.ServeStream(conn, engine.NewNetStream(nc, c.WriteTimeout))
	})
	<-done
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
