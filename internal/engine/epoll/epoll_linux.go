package epoll

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
	"github.com/weft-server/weft/internal/netpoll"
)

// Serve implements engine.Engine.
func (e Engine) Serve(ctx context.Context, l net.Listener, cfg *engine.Config) error {
	lfd, closeListener, err := evloop.Listen(l)
	if err != nil {
		return err
	}
	defer closeListener()
	nloops, nworkers := e.sizes()
	newPoller := e.NewPoller
	if newPoller == nil {
		newPoller = func() (evloop.Poller, error) { return netpoll.NewEpoll() }
	}
	// Every poller first: a loop started before a later one failed would
	// have to be stopped again.
	pollers := make([]evloop.Poller, 0, nloops)
	for range nloops {
		p, err := newPoller()
		if err != nil {
			for _, p := range pollers {
				p.Close()
			}
			return err
		}
		pollers = append(pollers, p)
	}
	pool := engine.NewWorkers[evloop.Job](nworkers)
	sh := &evloop.Shared{Cfg: cfg, LFD: lfd, Exclusive: nloops > 1, Pool: pool, CloseListener: closeListener}
	// A loop that fails stops the others: the engine serves with all its
	// loops or not at all.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loops := make([]*evloop.Loop, nloops)
	for i, p := range pollers {
		loops[i] = evloop.New(sh, p)
	}
	var wg sync.WaitGroup
	errs := make([]error, nloops)
	for i, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = l.Run(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// Every loop has returned, so only jobs that loops abandoned past the
	// shutdown timeout may still run: they close their own connections
	// when they return, and Serve does not wait for them.
	pool.Stop(100 * time.Millisecond)
	return errors.Join(errs...)
}
