// Package epoll is weft's fastest engine and the tutorial's conclusion, I/O
// multiplexing plus a worker pool, done properly: one edge-triggered epoll
// loop per CPU, each a goroutine that owns its poller and connections and
// parks in Go's scheduler while idle (the epoll descriptor is itself
// registered with Go's netpoller), sharing the listener (EPOLLEXCLUSIVE
// wakes one loop per new connection); non-blocking sockets with partial
// reads and writes buffered per connection; pipelined answers batched into
// one write; sendfile for file bodies, resumed on EPOLLOUT. Requests the
// handler can answer from memory are answered on the loop; those that need
// the disk (open, stat, read of uncached files) go to a small worker pool,
// whose results come back to the loop through an eventfd.
package epoll

import (
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
)

// Engine is the epoll engine.
type Engine struct {
	// Loops is the number of event loops; when zero, GOMAXPROCS as it was
	// when the process started (the CPUs the process may use, container
	// limits included), not as it is now: another engine in the process
	// (the thread engine) may raise it for its own threads.
	Loops   int
	Workers int // disk workers; 4 per loop when zero

	// NewPoller makes each loop's poller; netpoll.NewEpoll when nil.
	// Tests inject faults through it.
	NewPoller func() (evloop.Poller, error)
}

var _ engine.Engine = Engine{}

func (e Engine) sizes() (loops, workers int) { return engine.LoopSizes(e.Loops, e.Workers) }
