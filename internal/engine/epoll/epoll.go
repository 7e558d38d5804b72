// Package epoll is weft's fastest engine and the tutorial's conclusion, I/O
// multiplexing plus a worker pool, done properly: one edge-triggered epoll
// loop per core, each locked to its own thread, sharing the listener
// (EPOLLEXCLUSIVE wakes one loop per new connection); non-blocking sockets
// with partial reads and writes buffered per connection; pipelined answers
// batched into one write; sendfile for file bodies, resumed on EPOLLOUT.
// Requests the handler can answer from memory are answered on the loop;
// those that need the disk (open, stat, read of uncached files) go to a
// small worker pool, whose results come back to the loop through an
// eventfd.
package epoll

import (
	"runtime"

	"github.com/weft-server/weft/internal/engine"
)

// Engine is the epoll engine.
type Engine struct {
	Loops   int // event loops; GOMAXPROCS when zero
	Workers int // disk workers; 4 per loop when zero
}

var _ engine.Engine = Engine{}

func (e Engine) sizes() (loops, workers int) {
	loops, workers = e.Loops, e.Workers
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	if workers <= 0 {
		workers = 4 * loops
	}
	return loops, workers
}
