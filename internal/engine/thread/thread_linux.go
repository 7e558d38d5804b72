package thread

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/engine/reclaim"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, l net.Listener, cfg *engine.Config) error {
	ln, err := engine.SocketListener(l)
	if err != nil {
		return err
	}
	// The listening socket may be shared with other processes (prefork),
	// so it is neither put in blocking mode nor shut down to wake the
	// accepting thread: that thread blocks in poll(2) for a quarter second
	// at a time, then accepts without blocking. Connections themselves
	// are blocking sockets.
	lfd, err := netpoll.ListenerFD(ln, true)
	if err != nil {
		ln.Close()
		return err
	}

	var t engine.Tracker
	slots := make(chan struct{}, min(cfg.MaxConns, MaxThreads))
	acceptDone := make(chan error, 1)
	procs.start(time.Now())
	go func() {
		runtime.LockOSThread()
		acceptDone <- acceptLoop(ctx, lfd, cfg, &t, slots)
	}()
	err = <-acceptDone
	// Stop listening before the drain: with every descriptor of the
	// listening socket in this process closed, the kernel refuses
	// newcomers at once (under the process engine, other workers may
	// still hold it: closing, unlike shutdown(2), leaves it to them).
	unix.Close(lfd)
	ln.Close()
	// A connection stuck in its handler past the shutdown timeout (and
	// abandonGrace more) is left to finish on its own: Serve returns.
	t.ShutdownAbandon(cfg.ShutdownTimeout, abandonGrace)
	procs.stop() // connection threads still alive now share the Ps
	return err
}

func acceptLoop(ctx context.Context, lfd int, cfg *engine.Config, t *engine.Tracker, slots chan struct{}) error {
	var warnedAt time.Time
	var idle reclaim.Set
	for {
		// At MaxConns no newcomer leaves the kernel's backlog until a
		// slot frees (the oldest idle connection is closed to make room).
		if !engine.TakeSlot(ctx, slots, idle.Reclaim, func() bool { return netpoll.Pending(lfd) }) {
			return nil
		}
		fd, remote, err := acceptWait(ctx, lfd)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			switch err {
			case unix.EAGAIN, unix.ECONNABORTED, unix.EINTR, unix.EPROTO:
				// Another process or thread took it, or its client
				// left before it was accepted: the next one is not
				// held up by that.
				continue
			case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
				// Out of descriptors or memory: accepting again at
				// once would spin.
				if time.Since(warnedAt) >= 10*time.Second {
					warnedAt = time.Now()
					cfg.ErrorLog.Warn("accept failed; pausing new connections", "err", err, "pause", acceptPause)
				}
				time.Sleep(acceptPause)
				continue
			}
			return os.NewSyscallError("accept", err)
		}
		now := time.Now()
		procs.tick(now)
		c := h1conn.New(cfg, remote, now)
		s := &stream{TCPOpts: netpoll.TCPOpts{FD: fd, NoDelay: true}, c: c, idle: &idle} // accept set TCP_NODELAY
		kill := func() { unix.Shutdown(fd, unix.SHUT_RDWR) }
		s.entry = reclaim.NewEntry(kill)
		if !t.Add(c, s.kick, kill) {
			unix.Close(fd)
			<-slots
			continue
		}
		idle.Add(s.entry)
		go func() {
			// The goroutine owns this thread while the connection
			// lasts: one thread per connection. Unlocked at the end,
			// the thread waits among Go's idle threads for the next
			// connection, as a pthread server's thread pool would,
			// instead of exiting and being created anew.
			runtime.LockOSThread()
			procs.threadStarted()
			defer func() {
				// Out of the tracker before the descriptor closes:
				// Shutdown's kill must not reach a number that
				// another connection or file may get next.
				t.Untrack(c)
				idle.Remove(s.entry)
				s.done.Store(true)
				unix.Close(fd)
				if testHookClosed != nil {
					testHookClosed()
				}
				procs.threadEnded()
				t.Remove(c)
				<-slots
				runtime.UnlockOSThread()
			}()
			s.tid.Store(int32(unix.Gettid()))
			if tv := unix.NsecToTimeval(cfg.WriteTimeout.Nanoseconds()); unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv) != nil {
				return
			}
			h1conn.ServeStream(c, s)
		}()
	}
}

// abandonGrace is how long Serve waits, after the shutdown timeout has
// cut the connections, for threads that are still in a handler.
const abandonGrace = time.Second

// acceptPause is how long accepting stops when accept(2) fails for want
// of descriptors or memory.
const acceptPause = 10 * time.Millisecond

// accept is netpoll.Accept; tests inject failures through it.
var accept = netpoll.Accept

// testHookClosed, if set, runs after a connection's descriptor is closed
// and before the connection leaves the tracker.
var testHookClosed func()

// acceptWait blocks in poll(2) until the listener has a connection and
// accepts it as a blocking socket. It wakes every quarter second to notice
// ctx and to let an idle engine give back the Ps it no longer needs.
func acceptWait(ctx context.Context, lfd int) (int, netip.AddrPort, error) {
	pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	for {
		if ctx.Err() != nil {
			return -1, netip.AddrPort{}, ctx.Err()
		}
		n, err := unix.Poll(pfd, 250)
		if err == nil && n == 0 {
			procs.tick(time.Now())
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, netip.AddrPort{}, os.NewSyscallError("poll", err)
		}
		return accept(lfd, false)
	}
}

// stream is a blocking socket driven by direct system calls.
type stream struct {
	netpoll.TCPOpts               // the socket (FD); Cork and Uncork implement h1conn.Corker
	timeout         time.Duration // SO_RCVTIMEO now set; 0: none yet
	final           bool          // see h1conn.Finisher

	c     *h1conn.Conn
	idle  *reclaim.Set
	entry *reclaim.Entry

	tid    atomic.Int32 // the connection's thread, for kick; 0 until it runs
	kicked atomic.Bool  // kick asked the next Read to return at once
	done   atomic.Bool  // the connection is over: kick stops signalling
}

// kickTries bounds how often kick signals a thread that has not yet
// noticed (kickEvery apart): a signal that lands just before the thread
// enters read(2) is lost, the next one is not.
const (
	kickTries = 50
	kickEvery = 20 * time.Millisecond
)

// kick wakes the connection's thread from a blocking read so that it
// looks at the drain (see engine.Tracker), and leaves the socket as it
// is: a request half received goes on arriving and is answered. It sets
// kicked and sends the thread SIGURG (which Go's runtime ignores unless
// it asked for it): a read on a socket with SO_RCVTIMEO set fails with
// EINTR instead of restarting, and Read, seeing kicked, returns
// os.ErrDeadlineExceeded once.
func (s *stream) kick() {
	s.kicked.Store(true)
	go func() {
		pid := unix.Getpid()
		for i := 0; i < kickTries && s.kicked.Load() && !s.done.Load(); i++ {
			if tid := s.tid.Load(); tid != 0 {
				unix.Tgkill(pid, int(tid), unix.SIGURG)
			}
			time.Sleep(kickEvery)
		}
	}()
}

var (
	_ h1conn.Corker       = (*stream)(nil)
	_ h1conn.Finisher     = (*stream)(nil)
	_ h1conn.NoWaitReader = (*stream)(nil)
)

// ReadNoWait implements h1conn.NoWaitReader: a draining connection reads
// what has already arrived before it closes.
func (s *stream) ReadNoWait(p []byte) (int, error) {
	for {
		n, _, err := unix.Recvfrom(s.FD, p, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, nil
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (s *stream) Read(p []byte) (int, error) {
	for {
		if s.kicked.Swap(false) {
			return 0, os.ErrDeadlineExceeded
		}
		// Reads come from ServeStream on this connection's goroutine,
		// so its Conn may be asked whether it waits between requests.
		idle := s.idle != nil && s.c.Idle()
		if idle {
			s.idle.Idle(s.entry, s.c.Fresh(), time.Now())
		}
		n, err := unix.Read(s.FD, p)
		if idle {
			s.idle.Busy(s.entry)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, os.ErrDeadlineExceeded
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// CloseWrite shuts down the sending side.
func (s *stream) CloseWrite() error { return unix.Shutdown(s.FD, unix.SHUT_WR) }

// SetReadDeadline sets SO_RCVTIMEO to the time left, skipping the system
// call when it would barely change.
func (s *stream) SetReadDeadline(t time.Time) error {
	d := time.Until(t)
	if d < time.Millisecond {
		d = time.Millisecond
	}
	if diff := d - s.timeout; s.timeout != 0 && diff > -10*time.Millisecond && diff < 10*time.Millisecond {
		return nil
	}
	s.timeout = d
	tv := unix.NsecToTimeval(d.Nanoseconds())
	return unix.SetsockoptTimeval(s.FD, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// SetFinal implements h1conn.Finisher.
func (s *stream) SetFinal(final bool) { s.final = final }

func (s *stream) Writev(bufs [][]byte) (int64, error) {
	var total int64
	for len(bufs) > 0 {
		var n int
		var err error
		if s.final {
			n, err = unix.SendmsgBuffers(s.FD, bufs, nil, nil, unix.MSG_MORE|unix.MSG_NOSIGNAL)
			if err == unix.EINTR {
				continue
			}
		} else {
			n, err = netpoll.Writev(s.FD, bufs)
		}
		if n > 0 {
			total += int64(n)
			bufs = netpoll.Advance(bufs, n)
		}
		if err == unix.EAGAIN {
			return total, os.ErrDeadlineExceeded
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *stream) SendFile(f http1.File, off, n int64) (int64, error) {
	ff, ok := f.(http1.FdFile)
	if !ok {
		return s.copyFile(f, off, n)
	}
	m, err := netpoll.SendFileAll(s.FD, int(ff.Fd()), off, n)
	if err == unix.EAGAIN {
		return m, os.ErrDeadlineExceeded // SO_SNDTIMEO passed
	}
	return m, err
}

// copyFile sends a File without a descriptor: ReadAt, then Writev.
func (s *stream) copyFile(f http1.File, off, n int64) (int64, error) {
	var written int64
	for written < n {
		bp, chunk, err := engine.ReadChunk(f, off+written, n-written)
		if err != nil {
			return written, err
		}
		m, err := s.Writev([][]byte{chunk})
		engine.PutChunk(bp)
		written += m
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
