// Package uring is the completion-based engine, the model after epoll:
// instead of asking the kernel which sockets are ready and then reading
// and writing each with its own system call, each loop hands the kernel
// whole operations through an io_uring (package netpoll/uring) and
// collects their results, submitting a turn's operations and collecting
// the next results in one non-blocking io_uring_enter (none at all when
// nothing is to be submitted and the ring's taskrun flag shows no
// completion work waiting). When nothing is ready it waits as the epoll
// engine does, in Go's netpoller, here for an eventfd the ring writes
// when it has completions: a thread blocked in
// io_uring_enter costs Go's scheduler (sysmon takes its P back and hands
// it on), which under load cost a tenth of the loop's CPU.
//
// One loop per CPU, each a goroutine locked to its thread (the ring is
// single-issuer, its completion work deferred to the loop's own enters),
// shares the listener through a multishot accept; each connection has one
// multishot receive whose data lands in buffers the kernel picks from the
// loop's provided-buffer ring, so an idle connection holds no read buffer;
// responses go out as sendmsg operations on the Conn's queued bytes (the
// cached response bytes themselves); file bodies are sent with sendfile(2)
// from the loop, a poll operation waiting when the socket is full. Every
// policy (limits, timeouts, lingering close, drain) is the shared
// h1conn.Conn's, as for every engine; requests that need the disk go to a
// worker pool, as in the epoll engine.
//
// Costs against epoll: input is copied once, from the provided buffer
// into the Conn's; a connection's close waits a turn for its receive to
// be cancelled (the receive holds the socket open); the socket's send
// queue is asked only at a write deadline, so a client that takes
// nothing is dropped two write timeouts after output blocked.
//
// Not done yet (issue 14): registered (fixed) descriptors and buffers;
// file bodies through the ring (splice) instead of sendfile on the loop;
// timeouts as ring timeouts (the loop's one wait carries the sweep's
// deadline instead); receiving straight into the Conn's buffer. Measured on a quiet machine
// (README.md, "uring beside the best peers"), 78% of the loop's CPU at
// 1 KiB is the kernel's TCP path, 5% io_uring's own code. Zero-copy send
// (SEND_ZC) was measured on bench/floor and left out: 4% dearer than a
// copy on loopback at 128 KiB, and refused on sockets accepted from an
// MPTCP listener, which Go's listeners are by default (README.md).
package uring

import (
	"github.com/weft-server/weft/internal/engine"
)

// Engine is the io_uring engine.
type Engine struct {
	// Loops is the number of loops (rings); when zero, GOMAXPROCS as it
	// was when the process started.
	Loops   int
	Workers int // disk workers; 4 per loop when zero
}

var _ engine.Engine = Engine{}

func (e Engine) sizes() (loops, workers int) { return engine.LoopSizes(e.Loops, e.Workers) }
