package poll

import (
	"context"
	"net"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
	"github.com/weft-server/weft/internal/netpoll"
)

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, ln *net.TCPListener, cfg *engine.Config) error {
	defer ln.Close()
	lfd, err := evloop.ListenerFD(ln)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	p, err := netpoll.NewPoll()
	if err != nil {
		return err
	}
	sh := &evloop.Shared{Cfg: cfg, LFD: lfd}
	return evloop.New(sh, p).Run(ctx)
}
