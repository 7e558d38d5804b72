//go:build unix

package process

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/netpoll"
)

// worker is one running worker process.
type worker struct {
	proc    *os.Process
	state   *os.ProcessState
	started time.Time
	exited  chan struct{}
	stopped bool // the supervisor asked it to stop
}

// Serve implements engine.Engine: it supervises workers until ctx is done,
// then stops them and returns once every worker it started, of every
// generation, has exited.
func (e Engine) Serve(ctx context.Context, l net.Listener, cfg *engine.Config) error {
	ln, err := engine.SocketListener(l)
	if err != nil {
		return err
	}
	defer ln.Close()
	// The workers inherit a duplicate of the listening socket. It is
	// passed as a raw descriptor: os/exec would call os.File.Fd on it,
	// which switches the shared socket to blocking mode under the running
	// workers' event loops.
	lfd, err := netpoll.DupFD(ln)
	if err != nil {
		return err
	}
	defer syscall.Close(lfd)
	n := e.Workers
	if n <= 0 {
		n = runtime.NumCPU()
	}
	argv := e.Argv
	if argv == nil {
		argv = os.Args
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	s := &supervisor{exe: exe, argv: argv, env: e.Env, lfd: lfd, cfg: cfg, exits: make(chan *worker), done: make(chan struct{})}
	defer close(s.done)
	// Generations replaced by a reload drain in the background; Serve
	// does not return before they have exited.
	var draining sync.WaitGroup
	defer draining.Wait()

	// On Linux, PR_SET_PDEATHSIG fires when the thread that forked a
	// child exits, so every fork happens on this goroutine, locked to its
	// thread for the life of the supervisor.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	live := map[*worker]bool{}
	for i := 0; i < n; i++ {
		w, err := s.start(ctx)
		if w != nil {
			live[w] = true
		}
		if err != nil {
			s.stopAll(live, true)
			if ctx.Err() != nil {
				return nil // told to stop while starting: not a failure
			}
			return err
		}
		live[w] = true
	}
	cfg.ErrorLog.Info("workers ready", "workers", n)
	if e.Ready != nil {
		e.Ready()
	}
	backoff := 100 * time.Millisecond
	var restartAt []time.Time // pending restarts of crashed workers
	for {
		var timer <-chan time.Time
		if len(restartAt) > 0 {
			timer = time.After(time.Until(restartAt[0]))
		}
		select {
		case <-ctx.Done():
			s.stopAll(live, true)
			return nil
		case sig := <-e.Signals:
			if sig != syscall.SIGHUP {
				for w := range live {
					w.proc.Signal(sig)
				}
				continue
			}
			// Zero-downtime reload: new workers first, serving on the
			// same listening socket, then the old ones drain.
			fresh := map[*worker]bool{}
			for i := 0; i < n; i++ {
				w, err := s.start(ctx)
				if w != nil {
					fresh[w] = true
				}
				if err != nil {
					if ctx.Err() != nil {
						// Stopping: the next turn stops them all.
						for w := range fresh {
							live[w] = true
						}
					} else {
						cfg.ErrorLog.Error("reload: starting a worker failed; keeping the old workers", "err", err)
						s.stopAll(fresh, false)
					}
					fresh = nil
					break
				}
			}
			if fresh != nil {
				old := live
				live = fresh
				draining.Add(1)
				go func() {
					defer draining.Done()
					s.stopAll(old, false)
					cfg.ErrorLog.Info("reload: old workers stopped", "workers", len(old))
				}()
				cfg.ErrorLog.Info("reloaded", "workers", n)
			}
		case w := <-s.exits:
			if !live[w] {
				continue // an old worker finishing after a reload
			}
			delete(live, w)
			if w.stopped {
				continue
			}
			cfg.ErrorLog.Warn("worker exited; restarting", "pid", w.proc.Pid, "state", w.state.String(), "after", backoff)
			if time.Since(w.started) > 10*time.Second {
				backoff = 100 * time.Millisecond
			}
			restartAt = append(restartAt, time.Now().Add(backoff))
			backoff = min(2*backoff, 5*time.Second)
		case <-timer:
			restartAt = restartAt[1:]
			w, err := s.start(ctx)
			if w != nil {
				live[w] = true
			}
			if err != nil {
				if ctx.Err() != nil {
					continue // stopping: the next turn stops them all
				}
				cfg.ErrorLog.Error("restarting a worker failed", "err", err)
				restartAt = append(restartAt, time.Now().Add(backoff))
				continue
			}
			if e.Restarts != nil {
				e.Restarts.Add(1)
			}
		}
	}
}

type supervisor struct {
	exe   string
	argv  []string
	env   []string
	lfd   int
	cfg   *engine.Config
	exits chan *worker
	done  chan struct{} // closed when Serve returns
}

// start launches a worker and waits until it reports that it serves. A
// worker that fails to get ready is killed and reaped before start
// returns; one still starting when ctx ends is returned with the error,
// for the caller to stop with the rest.
func (s *supervisor) start(ctx context.Context) (*worker, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	env := append(append(os.Environ(), s.env...), EnvWorker+"=1")
	pid, _, err := syscall.StartProcess(s.exe, s.argv, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2, uintptr(s.lfd), pw.Fd()},
		Sys:   sysProcAttr(),
	})
	pw.Close()
	if err != nil {
		return nil, fmt.Errorf("weft: starting a worker: %w", err)
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return nil, err
	}
	w := &worker{proc: proc, started: time.Now(), exited: make(chan struct{})}
	go func() {
		w.state, _ = proc.Wait()
		close(w.exited)
		select {
		case s.exits <- w:
		case <-s.done:
		}
	}()
	// The worker closes its end once serving; EOF here means ready (or
	// dead, which Wait reports).
	ready := make(chan struct{})
	go func() { io.Copy(io.Discard, pr); close(ready) }()
	timeout := time.NewTimer(15 * time.Second)
	defer timeout.Stop()
	select {
	case <-ready:
	case <-timeout.C:
		w.stopped = true
		proc.Kill()
		<-w.exited
		return nil, fmt.Errorf("weft: worker %d not ready within 15s", pid)
	case <-ctx.Done():
		// It may be serving already (ready, but not yet seen here): it
		// is returned with the error, so that the caller's final stop
		// stops it gracefully with the others, once the socket no longer
		// listens (waiting here for a connection it took to finish would
		// leave the socket listening meanwhile).
		return w, fmt.Errorf("weft: worker %d: stopping before it was ready: %w", pid, ctx.Err())
	}
	select {
	case <-w.exited:
		return nil, fmt.Errorf("weft: worker exited at start: %s", w.state)
	default:
	}
	return w, nil
}

// listenGrace is how long a final stop waits between telling the workers
// to stop and making the socket stop listening.
const listenGrace = 100 * time.Millisecond

// stopAll asks workers to stop gracefully, kills those that overstay, and
// returns when all have exited. final is for the supervisor's own stop:
// then the shared socket also stops listening as soon as the workers have
// been told, so that new clients are refused at once instead of waiting in
// the backlog of a socket no one accepts from any more. A reload keeps it
// listening, for the new workers.
func (s *supervisor) stopAll(ws map[*worker]bool, final bool) {
	for w := range ws {
		w.stopped = true
		w.proc.Signal(syscall.SIGTERM)
	}
	if final {
		// A moment for the workers to take their SIGTERM and stop
		// accepting first: accept(2) on a socket that no longer listens
		// fails (EINVAL), which an engine still accepting reports as an
		// error. Clients arriving meanwhile wait in the backlog, and the
		// socket's shutdown resets them.
		time.Sleep(listenGrace)
		stopListening(s.lfd)
	}
	deadline := time.After(s.cfg.ShutdownTimeout + 5*time.Second)
	for w := range ws {
		select {
		case <-w.exited:
		case <-deadline:
			w.proc.Kill()
			<-w.exited
		}
	}
}
