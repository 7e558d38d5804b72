package epoll

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
	"github.com/weft-server/weft/internal/netpoll"
)

// Serve implements engine.Engine.
func (e Engine) Serve(ctx context.Context, l net.Listener, cfg *engine.Config) error {
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
	pool := newPool(nworkers)
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
	pool.stop(100 * time.Millisecond)
	return errors.Join(errs...)
}

// pool is the disk worker pool.
type pool struct {
	jobs chan evloop.Job
	wg   sync.WaitGroup
}

func newPool(n int) *pool {
	p := &pool{jobs: make(chan evloop.Job, 4096)}
	p.wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer p.wg.Done()
			for j := range p.jobs {
				j.Run()
			}
		}()
	}
	return p
}

// Submit implements evloop.Pool. Only loops submit, and stop is called
// once they have all returned.
func (p *pool) Submit(j evloop.Job) { p.jobs <- j }

// stop ends the workers once the queued jobs are done, waiting at most
// wait for them: a job stuck on a slow disk keeps its worker, not Serve.
func (p *pool) stop(wait time.Duration) {
	close(p.jobs)
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
}
