package uring

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
	iou "github.com/weft-server/weft/internal/netpoll/uring"
)

// ops is what a loop needs of the kernel's io_uring.
var ops = []uint8{iou.OpNop, iou.OpAccept, iou.OpRecv, iou.OpSendmsg, iou.OpPollAdd, iou.OpAsyncCancel, iou.OpRead}

// Available reports whether the engine can run here: nil, or why not in
// one line (an error wrapping iou.ErrUnsupported).
func Available() error {
	if err := iou.Available(); err != nil {
		return err
	}
	r, err := iou.New(iou.Params{Entries: 2})
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := r.Probe()
	if err != nil {
		return fmt.Errorf("%w: %v", iou.ErrUnsupported, err)
	}
	if err := p.Require(ops...); err != nil {
		return err
	}
	// Multishot receive with provided-buffer rings came in 6.0.
	br, err := r.RegisterBufRing(0, 1, 16)
	if err != nil {
		return fmt.Errorf("%w: no provided-buffer rings (Linux 6.0 or later needed): %v", iou.ErrUnsupported, err)
	}
	br.Close()
	return nil
}

// Serve implements engine.Engine.
func (e Engine) Serve(ctx context.Context, l net.Listener, cfg *engine.Config) error {
	if err := Available(); err != nil {
		l.Close()
		return err
	}
	lfd, closeListener, err := evloop.Listen(l)
	if err != nil {
		return err
	}
	defer closeListener()
	nloops, nworkers := e.sizes()
	// Every ring first: a loop started before a later one failed would
	// have to be stopped again.
	loops := make([]*loop, 0, nloops)
	pool := engine.NewWorkers[*conn](nworkers)
	sh := &shared{cfg: cfg, lfd: lfd, pool: pool, closeListener: closeListener}
	for range nloops {
		lp, err := newLoop(sh)
		if err != nil {
			for _, lp := range loops {
				lp.free()
			}
			pool.Stop(0)
			return err
		}
		loops = append(loops, lp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, nloops)
	for i, lp := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = lp.run(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	pool.Stop(100 * time.Millisecond)
	return errors.Join(errs...)
}
