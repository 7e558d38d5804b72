// Package serial is the engine that serves one connection at a time with
// blocking I/O: the tutorial's first server. While it serves one client,
// others wait in the kernel's accept backlog, so a slow or idle client
// blocks everyone (head-of-line blocking). To give the next client a turn,
// an idle keep-alive connection is closed after at most MaxIdle.
package serial

import (
	"context"
	"net"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/h1conn"
)

// MaxIdle caps the keep-alive idle timeout under this engine.
const MaxIdle = time.Second

// abandonGrace is how long Serve waits, after the shutdown timeout has
// cut the connection, for a handler that has not returned.
const abandonGrace = time.Second

// Engine is the one-connection-at-a-time engine.
type Engine struct{}

var _ engine.Engine = Engine{}

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, l net.Listener, cfg *engine.Config) error {
	ln, err := engine.SocketListener(l)
	if err != nil {
		return err
	}
	c := *cfg
	c.IdleTimeout = min(c.IdleTimeout, MaxIdle)
	var t engine.Tracker
	done := make(chan struct{})
	abandon := make(chan struct{}) // closed if a connection outlives the drain
	// Shutdown must reach a connection being served, so the drain runs
	// beside the loop; the loop itself stays strictly serial.
	go func() {
		<-ctx.Done()
		if !t.ShutdownAbandon(c.ShutdownTimeout, abandonGrace) {
			close(abandon)
		}
		close(done)
	}()
	err = engine.AcceptLoop(ctx, ln, &c, nil, nil, func(nc net.Conn) {
		conn := h1conn.New(&c, engine.RemoteAddrPort(nc), time.Now())
		if !t.Add(conn, func() { nc.SetReadDeadline(time.Now()) }, func() { nc.Close() }) {
			nc.Close()
			return
		}
		// The connection runs on a goroutine of its own only so that a
		// handler stuck past the shutdown timeout (on a hung disk) can be
		// left behind; the accept loop waits for it, one at a time.
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			defer nc.Close()
			defer t.Remove(conn)
			h1conn.ServeStream(conn, engine.NewNetStream(nc, c.WriteTimeout))
		}()
		select {
		case <-finished:
		case <-abandon:
		}
	})
	<-done
	return err
}
