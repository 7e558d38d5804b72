package engine

import (
	"sync"
	"time"
)

// Runner is a job for Workers.
type Runner interface{ Run() }

// Workers is the event loops' disk worker pool: n goroutines running the
// jobs the loops submit (requests whose answer may block on the disk).
// It is generic over the job type so that a loop's job, a small struct or
// a pointer, goes through the queue without being boxed.
type Workers[J Runner] struct {
	jobs chan J
	wg   sync.WaitGroup
}

// NewWorkers starts n workers.
func NewWorkers[J Runner](n int) *Workers[J] {
	p := &Workers[J]{jobs: make(chan J, 4096)}
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

// Submit queues j. Only loops submit, and Stop is called once they have
// all returned.
func (p *Workers[J]) Submit(j J) { p.jobs <- j }

// Stop ends the workers once the queued jobs are done, waiting at most
// wait for them: a job stuck on a slow disk keeps its worker, not the
// engine's Serve.
func (p *Workers[J]) Stop(wait time.Duration) {
	close(p.jobs)
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
}
