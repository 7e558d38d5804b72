package epoll

import (
	"context"
	"errors"
	"net"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
	"github.com/weft-server/weft/internal/netpoll"
)

// Serve implements engine.Engine.
func (e Engine) Serve(ctx context.Context, ln *net.TCPListener, cfg *engine.Config) error {
	defer ln.Close()
	lfd, err := evloop.ListenerFD(ln)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	nloops, nworkers := e.sizes()
	pool := newPool(nworkers)
	defer pool.stop()
	sh := &evloop.Shared{Cfg: cfg, LFD: lfd, Exclusive: nloops > 1, Pool: pool}
	var wg sync.WaitGroup
	errs := make([]error, nloops)
	for i := 0; i < nloops; i++ {
		p, err := netpoll.NewEpoll()
		if err != nil {
			return err
		}
		l := evloop.New(sh, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.Run(ctx)
		}()
	}
	wg.Wait()
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

// Submit implements evloop.Pool.
func (p *pool) Submit(j evloop.Job) { p.jobs <- j }

func (p *pool) stop() {
	close(p.jobs)
	p.wg.Wait()
}
