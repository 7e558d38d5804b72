// Package process is the prefork engine: a supervisor process re-executes
// the weft binary as N worker processes that share the listening socket
// (inherited as a file descriptor), each running an in-process engine.
// Workers share no memory: a crash takes down one worker, which the
// supervisor restarts with back-off.
//
// When Serve's context ends (the server's SIGTERM or SIGINT), the
// supervisor sends each worker SIGTERM for a graceful stop, makes the
// shared socket stop listening (Linux), and returns once every worker it
// ever started has exited. A SIGHUP, which the server passes on through
// Engine.Signals, replaces every worker with a fresh one: the new workers
// report that they serve before the old ones are told to drain, and the
// listening socket stays open throughout, so no connection is refused
// (zero-downtime reload). Other signals on Engine.Signals (SIGUSR1) are
// passed on to the live workers. On Linux, workers also get SIGTERM if the
// supervisor dies without stopping them (PR_SET_PDEATHSIG).
package process

import (
	"errors"
	"os"
	"sync/atomic"

	"github.com/weft-server/weft/internal/engine"
)

// Environment and descriptors of the worker protocol.
const (
	// EnvWorker is set to "1" in a worker's environment.
	EnvWorker = "WEFT_WORKER"
	// EnvRoot, in a worker's environment, names the document root the
	// supervisor prepared (the extracted sample site), so that every
	// worker serves the same files with the same validators.
	EnvRoot = "WEFT_WORKER_ROOT"
	// EnvConfig, in a worker's environment, names a file holding the
	// configuration the supervisor last checked, for the worker to serve
	// instead of reading the configuration file again (which may have
	// been edited since, and not reloaded).
	EnvConfig = "WEFT_WORKER_CONFIG"
	// ListenerFD is the worker's descriptor for the shared listener.
	ListenerFD = 3
	// EnvMetricsDir, in a worker's environment, names the directory
	// where it serves its metrics on a unix socket, for the supervisor's
	// admin listener to sum (see package metrics).
	EnvMetricsDir = "WEFT_WORKER_METRICS"
	// ReadyFD is the worker's write end of a pipe on which it reports,
	// by closing it, that it is serving.
	ReadyFD = 4
)

// Engine is the prefork supervisor.
type Engine struct {
	Workers int      // worker processes; one per core when zero
	Argv    []string // command line to re-execute (os.Args when nil)
	Env     []string // added to the workers' environment
	// Signals carries the signals the server received for this engine:
	// SIGHUP replaces the workers; any other is passed on to them. The
	// engine installs no signal handler itself.
	Signals <-chan os.Signal
	// Restarts, when not nil, counts the workers started in place of
	// one that died.
	Restarts *atomic.Uint64
	// Ready, when not nil, is called once the first workers all serve.
	Ready func()
}

var _ engine.Engine = Engine{}

// IsWorker reports whether this process is a prefork worker.
func IsWorker() bool { return os.Getenv(EnvWorker) == "1" }

// WorkerListener returns the listener a worker inherited.
func WorkerListener() (*os.File, error) {
	if !IsWorker() {
		return nil, errors.New("weft: not a prefork worker")
	}
	return os.NewFile(ListenerFD, "listener"), nil
}

// WorkerReady tells the supervisor the worker is serving.
func WorkerReady() {
	if IsWorker() {
		os.NewFile(ReadyFD, "ready").Close()
	}
}
