package evloop

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

// Poller is the readiness API a loop needs; netpoll.Epoll and netpoll.Poll
// implement it.
type Poller interface {
	AddListener(fd int, exclusive bool) error
	Add(fd int) error
	SetWrite(fd int, on bool) error
	Remove(fd int) error
	// Forget is Remove for a descriptor about to be closed; epoll needs
	// no call, as closing drops the registration.
	Forget(fd int)
	Wait(timeout time.Duration, fn func(fd int, in, out, hup bool)) error
	Wake() error
	Close() error
}

// Pool runs disk work off the loops. Submit must not block for long.
type Pool interface {
	Submit(j Job)
}

// Job is one offloaded request: Run it on a worker.
type Job struct {
	l  *Loop
	cn *conn
}

// Run answers the request (possibly blocking on disk) and hands the
// connection back to its loop.
func (j Job) Run() {
	j.cn.c.ServeOffloaded()
	j.l.mu.Lock()
	j.l.done = append(j.l.done, j.cn)
	j.l.mu.Unlock()
	j.l.p.Wake()
}

// Shared is the state every loop of one engine shares.
type Shared struct {
	Cfg       *engine.Config
	Conns     atomic.Int64 // open connections across loops, for MaxConns
	Pool      Pool         // nil: the handler runs on the loop
	LFD       int          // listening socket, non-blocking
	Exclusive bool         // several loops share LFD
}

// ListenerFD returns a non-blocking duplicate of ln's descriptor for the
// loops to accept from, with TCP_DEFER_ACCEPT set (best effort: the read
// after accept then usually finds the request). The caller closes it.
func ListenerFD(ln *net.TCPListener) (int, error) {
	lfd, err := netpoll.ListenerFD(ln, true)
	if err != nil {
		return -1, err
	}
	netpoll.DeferAccept(lfd, 5)
	return lfd, nil
}

// Loop is one event loop. Only its own goroutine touches its connections;
// other goroutines reach it through Complete and Wake.
type Loop struct {
	sh    *Shared
	p     Poller
	conns map[int]*conn

	mu   sync.Mutex
	done []*conn // offloaded requests answered by the pool

	sweepAt time.Time
	wake    []*conn // connections to drive again after this turn
	spare   []*conn // the other buffer for wake, reused

	pausedUntil time.Time // accepting paused (out of descriptors or memory) until then
	warnedAt    time.Time // last warning about it
}

// acceptPause is how long a loop stops accepting when accept(2) fails for
// want of descriptors or memory: the listener stays readable, so trying
// again at once would spin (nginx pauses too).
const acceptPause = 100 * time.Millisecond

type conn struct {
	fd    int
	sink  sink // the socket as an engine.Sink, kept here so passing it does not allocate
	c     *engine.Conn
	more  bool // input may remain in the socket: read again when there is room
	eof   bool // the peer has shut down its side
	wants bool // level-triggered output interest is on
}

// New creates a loop over poller p.
func New(sh *Shared, p Poller) *Loop {
	return &Loop{sh: sh, p: p, conns: make(map[int]*conn)}
}

const sweepEvery = 250 * time.Millisecond

// Run serves until ctx is done, then drains. It closes the poller.
func (l *Loop) Run(ctx context.Context) error {
	defer l.p.Close()
	stop := context.AfterFunc(ctx, func() { l.p.Wake() })
	defer stop()
	// The loop waits without a timeout, woken by events, by the pool, by
	// shutdown, and by this ticker for the deadline sweep: a timeout on
	// every wait would cost a timer update each time the loop idles.
	ticker := time.NewTicker(sweepEvery)
	tickDone, tickExited := make(chan struct{}), make(chan struct{})
	defer func() { close(tickDone); <-tickExited }() // before the poller closes
	go func() {
		defer close(tickExited)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				l.p.Wake()
			case <-tickDone:
				return
			}
		}
	}()
	if err := l.p.AddListener(l.sh.LFD, l.sh.Exclusive); err != nil {
		return err
	}
	var drainBy time.Time
	for {
		timeout := time.Duration(-1)
		if len(l.wake) > 0 {
			timeout = 0 // turns are owed: collect new events without sleeping
		}
		if err := l.p.Wait(timeout, l.event); err != nil {
			return err
		}
		now := time.Now()
		l.resume(now)
		l.rerun(now)
		if ctx.Err() != nil {
			if drainBy.IsZero() {
				drainBy = now.Add(l.sh.Cfg.ShutdownTimeout)
				l.p.Remove(l.sh.LFD) // stop accepting; other processes may still
				for _, cn := range l.conns {
					cn.c.Drain()
					if cn.c.Drainable() {
						l.close(cn)
					}
				}
			}
			if len(l.conns) == 0 {
				return nil
			}
			if now.After(drainBy) {
				for _, cn := range l.conns {
					if !cn.c.Offloaded() {
						l.close(cn)
					}
				}
				if len(l.conns) == 0 {
					return nil
				}
			}
		}
		if now.After(l.sweepAt) {
			l.sweep(now)
		}
		if !l.pausedUntil.IsZero() && now.After(l.pausedUntil) && ctx.Err() == nil {
			l.pausedUntil = time.Time{}
			if err := l.p.AddListener(l.sh.LFD, l.sh.Exclusive); err != nil {
				l.pauseAccept(err) // short of memory too: try again later
			}
		}
	}
}

func (l *Loop) event(fd int, in, out, hup bool) {
	if fd == l.sh.LFD {
		l.accept()
		return
	}
	cn, ok := l.conns[fd]
	if !ok {
		return
	}
	if in {
		cn.more = true
	}
	l.drive(cn, time.Now())
}

// accept takes one waiting connection per wake-up: the listener is
// level-triggered, so the rest are reported again (to this loop or
// another), and the accept(2) that would find the queue empty is saved.
// At MaxConns it answers 503 and closes: a loop sharing its listener with
// others (and other processes) cannot leave a client in the backlog
// without starving it, as only one of them is woken per client.
func (l *Loop) accept() {
	fd, remote, err := netpoll.AcceptNB(l.sh.LFD)
	if err != nil {
		switch {
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			l.pauseAccept(err)
		case err != unix.EAGAIN && !netpoll.TemporaryAcceptError(err):
			l.sh.Cfg.ErrorLog.Error("accept", "err", err)
		}
		return
	}
	now := time.Now()
	c := engine.NewConn(l.sh.Cfg, remote, now)
	if l.sh.Conns.Load() >= int64(l.sh.Cfg.MaxConns) {
		c.Refuse(now)
		s := newSink(fd)
		c.Flush(s, now)
		c.Release()
		netpoll.ShutdownWriteNB(fd)
		netpoll.CloseNB(fd)
		return
	}
	l.sh.Conns.Add(1)
	c.SetAsync(l.sh.Pool != nil)
	cn := &conn{fd: fd, sink: *newSink(fd), c: c, more: true}
	l.conns[fd] = cn
	// Serve what has already arrived (TCP_DEFER_ACCEPT makes that the
	// usual case) before registering: a connection-per-request client is
	// answered and closed without ever entering the poller. Registering
	// later loses nothing: adding a ready descriptor reports it at once.
	l.drive(cn, now)
	if l.conns[fd] == cn {
		if err := l.p.Add(fd); err != nil {
			l.close(cn)
		} else if cn.wants {
			// The first answer filled the socket before registration,
			// when output interest had nothing to attach to.
			l.p.SetWrite(fd, true)
		}
	}
}

// pauseAccept stops this loop's accepting for acceptPause (Run resumes it
// within a sweep tick of that) and warns at most every ten seconds.
func (l *Loop) pauseAccept(err error) {
	now := time.Now()
	if l.pausedUntil.IsZero() {
		l.p.Remove(l.sh.LFD) // fails harmlessly if re-adding it just failed
	}
	l.pausedUntil = now.Add(acceptPause)
	if now.Sub(l.warnedAt) >= 10*time.Second {
		l.warnedAt = now
		l.sh.Cfg.ErrorLog.Warn("accept failed; pausing new connections", "err", err, "pause", acceptPause)
	}
}

// drive moves a connection as far as it can go without blocking: read
// what has arrived, answer complete requests, write what the socket takes.
func (l *Loop) drive(cn *conn, now time.Time) {
	c := cn.c
	if c.Lingering() {
		l.discard(cn, now)
		return
	}
	for pass := 0; pass < 8; pass++ {
		if c.Offloaded() {
			return // the pool has it; input waits in the socket
		}
		if cn.more && !cn.eof {
			if !l.read(cn, now) {
				l.close(cn)
				return
			}
		}
		c.Process(now)
		if c.Offloaded() {
			l.sh.Pool.Submit(Job{l, cn})
			return
		}
		if c.Pending() {
			if !c.Closing() && !cn.sink.Corked() && c.PendingFileBytes() < engine.CorkAbove {
				// Like nginx, disable Nagle only on connections kept
				// alive: a response's tail must not wait for the ACK
				// of its head. A connection about to close is flushed
				// by the close and saves the system call; one corked
				// or about to be (see engine.Corker) must not have it
				// on: the end of a large body would turn it on only
				// for the next large body to turn it off again.
				cn.sink.SetNoDelay()
			}
			cn.sink.budget, cn.sink.yielded = sendBudget, false
			err := c.Flush(&cn.sink, now)
			switch {
			case errors.Is(err, engine.ErrWouldBlock):
				if cn.sink.yielded {
					// The socket still takes data: come back once the
					// other ready connections have had their turn.
					l.wake = append(l.wake, cn)
					return
				}
				l.wantWrite(cn, true)
				return
			case err != nil:
				l.close(cn)
				return
			}
			l.wantWrite(cn, false)
		}
		if c.Done() || (cn.eof && !c.Pending()) {
			linger := c.Lingers() && !cn.eof
			// Flush sent the last output with MSG_MORE (see
			// engine.Finisher): shutdown adds the FIN to its tail.
			if cn.sink.final || linger {
				netpoll.ShutdownWriteNB(cn.fd)
			}
			if linger {
				c.StartLinger(now)
				l.discard(cn, now)
				return
			}
			l.close(cn)
			return
		}
		if !cn.more && !c.Stalled() {
			return
		}
	}
	// Passes ran out with work left: let other connections have a turn
	// and come back on the next wake-up.
	l.wake = append(l.wake, cn)
}

// read reads until the socket is drained or the buffer is full. It
// returns false when the connection failed.
func (l *Loop) read(cn *conn, now time.Time) bool {
	for {
		space := cn.c.ReadSpace()
		if len(space) == 0 {
			return true // cn.more stays set: read again once processed
		}
		n, err := netpoll.ReadNB(cn.fd, space)
		switch {
		case err == unix.EAGAIN:
			cn.more = false
			return true
		case err == unix.EINTR:
		case err != nil:
			return false
		case n == 0:
			cn.eof, cn.more = true, false
			return true
		default:
			cn.c.Received(n, now)
			if n < len(space) {
				cn.more = false // a short read drained the socket
				return true
			}
		}
	}
}

// discard reads and throws away what a lingering connection's client
// sends, closing the connection once the client closes its side.
func (l *Loop) discard(cn *conn, now time.Time) {
	for {
		n, err := netpoll.ReadNB(cn.fd, cn.c.ReadSpace())
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
		case err != nil || n == 0:
			l.close(cn)
			return
		default:
			cn.c.Received(n, now)
		}
	}
}

func (l *Loop) wantWrite(cn *conn, on bool) {
	if cn.wants != on {
		cn.wants = on
		l.p.SetWrite(cn.fd, on)
	}
}

func (l *Loop) close(cn *conn) {
	l.p.Forget(cn.fd)
	netpoll.CloseNB(cn.fd)
	cn.c.Release()
	delete(l.conns, cn.fd)
	l.sh.Conns.Add(-1)
}

// resume finishes connections whose requests the pool has answered.
func (l *Loop) resume(now time.Time) {
	l.mu.Lock()
	done := l.done
	l.done = nil
	l.mu.Unlock()
	for i, cn := range done {
		done[i] = nil
		cn.c.Resume(now)
		if cn.c.Offloaded() {
			l.sh.Pool.Submit(Job{l, cn})
			continue
		}
		l.drive(cn, now)
	}
}

// rerun drives again the connections that used up their passes or their
// send budget in an earlier turn. Those it leaves in l.wake keep the next
// Wait from sleeping.
func (l *Loop) rerun(now time.Time) {
	again := l.wake
	l.wake = l.spare[:0]
	for i, cn := range again {
		again[i] = nil
		if l.conns[cn.fd] == cn {
			l.drive(cn, now)
		}
	}
	l.spare = again[:0]
}

// sweep drops connections past their deadline.
func (l *Loop) sweep(now time.Time) {
	l.sweepAt = now.Add(sweepEvery)
	for _, cn := range l.conns {
		if !cn.c.Offloaded() && cn.c.Expired(&cn.sink, now) {
			l.close(cn)
		}
	}
}

// sendBudget is how much file data a connection may send in one turn of
// its loop, like nginx's sendfile_max_chunk: a client that takes data as
// fast as it comes (loopback, a fast network) must not hold the loop for a
// whole large body while the other connections wait.
const sendBudget = 2 << 20

// sink writes to a non-blocking socket.
type sink struct {
	netpoll.TCPOpts // the socket (FD), TCP_NODELAY and TCP_CORK; Cork and Uncork implement engine.Corker
	iov             []unix.Iovec
	final           bool  // the connection closes once this output is sent
	budget          int64 // file bytes this turn may still send
	yielded         bool  // SendFile stopped for the budget, not for a full socket
}

var (
	_ engine.Corker   = (*sink)(nil)
	_ engine.Finisher = (*sink)(nil)
)

// SetFinal implements engine.Finisher.
func (s *sink) SetFinal(final bool) { s.final = final }

func newSink(fd int) *sink { return &sink{TCPOpts: netpoll.TCPOpts{FD: fd}, budget: sendBudget} }

func (s *sink) Writev(bufs [][]byte) (int64, error) {
	n, _, err := netpoll.WritevAllNB(s.FD, bufs, &s.iov, s.final)
	if err == unix.EAGAIN {
		return n, engine.ErrWouldBlock
	}
	return n, err
}

func (s *sink) SendFile(f http1.File, off, n int64) (int64, error) {
	m, err := netpoll.SendFileAllNB(s.FD, int(f.Fd()), off, min(n, s.budget))
	s.budget -= m
	switch {
	case err == unix.EAGAIN:
		return m, engine.ErrWouldBlock
	case err == nil && m < n:
		s.yielded = true
		return m, engine.ErrWouldBlock
	}
	return m, err
}
