package thread

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

// Serve implements engine.Engine.
func (Engine) Serve(ctx context.Context, ln *net.TCPListener, cfg *engine.Config) error {
	defer ln.Close()
	// The listening socket may be shared with other processes (prefork),
	// so it is neither put in blocking mode nor shut down to wake the
	// accepting thread: that thread blocks in poll(2) for a quarter second
	// at a time, then accepts without blocking. Connections themselves
	// are blocking sockets.
	lfd, err := netpoll.ListenerFD(ln, true)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)

	var t engine.Tracker
	slots := make(chan struct{}, min(cfg.MaxConns, MaxThreads))
	acceptDone := make(chan error, 1)
	procs.start(time.Now())
	go func() {
		runtime.LockOSThread()
		acceptDone <- acceptLoop(ctx, lfd, cfg, &t, slots)
	}()
	err = <-acceptDone
	t.Shutdown(cfg.ShutdownTimeout)
	procs.stop() // every connection thread has ended
	return err
}

func acceptLoop(ctx context.Context, lfd int, cfg *engine.Config, t *engine.Tracker, slots chan struct{}) error {
	var warnedAt time.Time
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		fd, remote, err := acceptWait(ctx, lfd)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			if err == unix.EAGAIN {
				continue // another process or thread took it
			}
			if netpoll.TemporaryAcceptError(err) {
				if time.Since(warnedAt) >= 10*time.Second {
					warnedAt = time.Now()
					cfg.ErrorLog.Warn("accept failed; pausing new connections", "err", err, "pause", 10*time.Millisecond)
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return os.NewSyscallError("accept", err)
		}
		now := time.Now()
		procs.tick(now)
		c := engine.NewConn(cfg, remote, now)
		kick := func() { unix.Shutdown(fd, unix.SHUT_RD) }
		kill := func() { unix.Shutdown(fd, unix.SHUT_RDWR) }
		if !t.Add(c, kick, kill) {
			unix.Close(fd)
			<-slots
			continue
		}
		go func() {
			// The goroutine owns this thread while the connection
			// lasts: one thread per connection. Unlocked at the end,
			// the thread waits among Go's idle threads for the next
			// connection, as a pthread server's thread pool would,
			// instead of exiting and being created anew.
			runtime.LockOSThread()
			procs.threadStarted()
			defer func() {
				unix.Close(fd)
				procs.threadEnded()
				t.Remove(c)
				<-slots
				runtime.UnlockOSThread()
			}()
			s := &stream{TCPOpts: netpoll.TCPOpts{FD: fd, NoDelay: true}} // accept set TCP_NODELAY
			if tv := unix.NsecToTimeval(cfg.WriteTimeout.Nanoseconds()); unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv) != nil {
				return
			}
			engine.ServeStream(c, s)
		}()
	}
}

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
		return netpoll.Accept(lfd, false)
	}
}

// stream is a blocking socket driven by direct system calls.
type stream struct {
	netpoll.TCPOpts               // the socket (FD); Cork and Uncork implement engine.Corker
	timeout         time.Duration // SO_RCVTIMEO now set
	final           bool          // see engine.Finisher
}

var (
	_ engine.Corker   = (*stream)(nil)
	_ engine.Finisher = (*stream)(nil)
)

func (s *stream) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(s.FD, p)
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
	if diff := d - s.timeout; diff > -10*time.Millisecond && diff < 10*time.Millisecond {
		return nil
	}
	s.timeout = d
	tv := unix.NsecToTimeval(d.Nanoseconds())
	return unix.SetsockoptTimeval(s.FD, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// SetFinal implements engine.Finisher.
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
	m, err := netpoll.SendFileAll(s.FD, int(f.Fd()), off, n)
	if err == unix.EAGAIN {
		return m, os.ErrDeadlineExceeded // SO_SNDTIMEO passed
	}
	return m, err
}
