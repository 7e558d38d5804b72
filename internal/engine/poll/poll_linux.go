package poll

import (
	"context"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
	"github.com/weft-server/weft/internal/netpoll"
)

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, l net.Listener, cfg *engine.Config) error {
	ln, err := engine.SocketListener(l)
	if err != nil {
		return err
	}
	lfd, err := evloop.ListenerFD(ln)
	if err != nil {
		ln.Close()
		return err
	}
	closeListener := sync.OnceFunc(func() {
		unix.Close(lfd)
		ln.Close()
	})
	p, err := netpoll.NewPoll()
	if err != nil {
		closeListener()
		return err
	}
	sh := &evloop.Shared{Cfg: cfg, LFD: lfd, CloseListener: closeListener}
	ran := make(chan error, 1)
	go func() { ran <- evloop.New(sh, p).Run(ctx) }()
	select {
	case err := <-ran:
		closeListener() // done already by the loop as it stopped accepting
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-ran:
		closeListener() // done already by the loop as it stopped accepting
		return err
	case <-time.After(cfg.ShutdownTimeout + abandonGrace):
		// The loop is stuck in a handler (the disk work runs on it): leave
		// it. Once the handler returns it finds the drain over, closes its
		// connections and, through CloseListener, the listening
		// descriptors, which until then stay its own.
		ln.Close()
		return nil
	}
}

// abandonGrace is how long Serve waits past the shutdown timeout for a
// loop that has not returned.
const abandonGrace = time.Second
