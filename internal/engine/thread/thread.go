// Package thread is the thread-per-connection engine: each connection gets
// its own OS thread (a goroutine locked to it) making blocking system calls
// (read, writev, sendfile) on a blocking socket, outside Go's netpoller,
// as a C server with pthreads would. Timeouts are SO_RCVTIMEO and
// SO_SNDTIMEO. Every open connection holds a thread with its stack and a
// scheduler entry; the engine caps them at MaxThreads (Go aborts a program
// past 10,000 threads). At the cap (or MaxConns) the oldest idle
// connection is closed to make room for a newcomer (see reclaim); with
// none idle, clients beyond wait (one accepted, the rest in the accept
// backlog) until a connection ends. Graceful shutdown wakes a connection's
// blocking read with a signal (see stream.kick), never by shutting the
// socket down, so a request half received is still answered. A
// connection's thread, once it closes, waits for the next connection
// rather than exiting (a thread pool, as pthread servers keep).
// GOMAXPROCS follows the number of connection threads (see procSizer), so
// that a thread runs Go code whenever the kernel schedules it, as a
// pthread would, rather than queueing for a P.
package thread

import "github.com/weft-server/weft/internal/engine"

// MaxThreads caps connection threads, whatever MaxConns says.
const MaxThreads = 4096

// Engine is the thread-per-connection engine.
type Engine struct{}

var _ engine.Engine = Engine{}
