package poll

import (
	"context"
	"net"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
	"github.com/weft-server/weft/internal/netpoll"
)

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, ln *net.TCPListener, cfg *engine.Config) error {
	lfd, err := evloop.ListenerFD(ln)
	if err != nil {
		ln.Close()
		return err
	}
	closeListener := sync.OnceFunc(func() {
		unix.Close(lfd)
		ln.Close()
	})
	defer closeListener()
	p, err := netpoll.NewPoll()
	if err != nil {
		return err
	}
	sh := &evloop.Shared{Cfg: cfg, LFD: lfd, CloseListener: closeListener}
	return evloop.New(sh, p).Run(ctx)
}
