// Package engine defines how weft's concurrency models plug in: the Engine
// interface, the limits every engine honours (Config), and what the engines
// share besides the connection state machine (package h1conn): the
// shutdown tracker, the blocking stream over Go's netpoller, the accept
// loop of the blocking engines. Each engine only decides how sockets are
// multiplexed.
package engine

import (
	"context"
	"errors"
	"net"
	"runtime"
	"syscall"

	"github.com/weft-server/weft/internal/engine/h1conn"
)

// Engine serves HTTP/1.1 connections accepted from a listener.
type Engine interface {
	// Serve accepts connections from ln and serves them with cfg.Handler
	// until ctx is done. Then it stops accepting, lets in-flight responses
	// finish, closes idle connections, and returns once every connection
	// is gone or cfg.ShutdownTimeout has passed (then it closes the rest).
	// It closes ln before returning. Every engine but goroutine needs a
	// socket listener, TCP or unix (see SocketListener); goroutine serves
	// any listener (TLS in front of it, for one).
	Serve(ctx context.Context, ln net.Listener, cfg *Config) error
}

// Config is what every engine honours: the limits, timeouts and handler of
// the HTTP/1 connections it serves (see h1conn.Config). It lives with the
// connection state machine, which applies most of it.
type Config = h1conn.Config

// ErrUnsupported is returned by engines that do not exist on this OS.
var ErrUnsupported = errors.New("weft: engine not supported on this platform")

// Unsupported is the Serve of an engine that does not exist on this OS: it
// closes ln, as Serve must, and returns ErrUnsupported.
func Unsupported(ln net.Listener) error {
	ln.Close()
	return ErrUnsupported
}

// ErrNotSocket is returned by an engine given a listener it cannot serve.
var ErrNotSocket = errors.New("weft: this engine needs a TCP or unix socket listener")

// Socket is a listener on a socket whose descriptor an engine can reach:
// *net.TCPListener or *net.UnixListener. Accepted connections of a unix
// socket have no peer address (their Remote is the zero netip.AddrPort).
type Socket interface {
	net.Listener
	syscall.Conn
}

// SocketListener returns ln as the socket listener an engine needs (to
// reach its descriptor or set socket options), or, closing ln as Serve
// must, ErrNotSocket.
func SocketListener(ln net.Listener) (Socket, error) {
	switch l := ln.(type) {
	case *net.TCPListener:
		return l, nil
	case *net.UnixListener:
		return l, nil
	}
	ln.Close()
	return nil, ErrNotSocket
}

// startProcs is GOMAXPROCS at start-up, before any engine changed it.
var startProcs = runtime.GOMAXPROCS(0)

// LoopSizes is how many event loops and disk workers a loop engine runs
// when asked for loops and workers: zero loops means GOMAXPROCS as it was
// when the process started (the CPUs the process may use, container
// limits included), not as it is now, as another engine in the process
// (the thread engine) may raise it for its own threads; zero workers
// means 4 per loop.
func LoopSizes(loops, workers int) (int, int) {
	if loops <= 0 {
		loops = startProcs
	}
	if workers <= 0 {
		workers = 4 * loops
	}
	return loops, workers
}
