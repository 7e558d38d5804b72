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
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

// Pool runs disk work off the loops. Submit must not block for long.
type Pool interface {
	Submit(j Job)
}

// Job is one offloaded request: Run it on a worker (or, for a request
// whose handler takes its body, on a goroutine of its own: see body_linux.go).
type Job struct {
	l  *Loop
	cn *conn
}

// Run answers the request (possibly blocking on disk, or on the client
// for its body) and hands the connection back to its loop. If the loop
// has exited meanwhile (a shutdown that outlasted its timeout, or a
// failed loop), the loop has abandoned the connection to this job: Run
// closes it.
func (j Job) Run() {
	l := j.l
	if j.cn.detached {
		defer l.bodies.Done()
		j.cn.c.ServeBody(&j.cn.bs)
	} else {
		j.cn.c.ServeOffloaded()
	}
	if !l.in.HandBack(j.cn) {
		l.drop(j.cn)
	}
}

// Shared is the state every loop of one engine shares.
type Shared struct {
	Cfg       *engine.Config
	Conns     atomic.Int64 // open connections across loops, for MaxConns
	Pool      Pool         // nil: the handler runs on the loop
	LFD       int          // listening socket, non-blocking
	Exclusive bool         // several loops share LFD

	// CloseListener, if not nil, closes every descriptor of the listening
	// socket that this engine holds (LFD and the listener it came
	// from). The loops call it once, when the last of them has stopped
	// accepting (at shutdown, or when a loop fails): once no process
	// holds a descriptor of it, the kernel stops listening and refuses
	// newcomers at once instead of leaving them in a backlog nobody
	// accepts from. It never shuts the socket down: under the process
	// engine, workers of two generations share it during a reload. It
	// must be safe to call again (the engine's Serve calls it too).
	CloseListener func()

	accepting atomic.Int32 // loops that may still accept from LFD
	loops     []*Loop      // every loop, complete before the first Run
}

// Listen prepares a loop engine's listener: ln must be a TCP or unix
// socket (else it is closed and engine.ErrNotSocket returned); lfd is a non-blocking duplicate of its
// descriptor for the loops to accept from, with TCP_DEFER_ACCEPT set (best
// effort: the read after accept then usually finds the request); and
// closeListener closes both, once however often it is called (see
// Shared.CloseListener).
func Listen(l net.Listener) (lfd int, closeListener func(), err error) {
	ln, err := engine.SocketListener(l)
	if err != nil {
		return -1, nil, err
	}
	lfd, err = netpoll.ListenerFD(ln, true)
	if err != nil {
		ln.Close()
		return -1, nil, err
	}
	netpoll.DeferAccept(lfd, 5)
	return lfd, sync.OnceFunc(func() {
		unix.Close(lfd)
		ln.Close()
	}), nil
}

// Loop is one event loop. Only its own goroutine touches its connections;
// other goroutines reach it through Complete and Wake.
type Loop struct {
	sh    *Shared
	idx   int // this loop's index in sh.loops: its connections count on its own counters (h1conn.NewOnLoop)
	p     Poller
	conns map[int]*conn

	in Inbox[*conn] // answered offloads and streamed bodies, from other goroutines

	sweepAt time.Time
	wake    []*conn // connections to drive again after this turn
	spare   []*conn // the other buffer for wake, reused

	pausedUntil time.Time // accepting paused (out of descriptors or memory) until then
	warnedAt    time.Time // last warning about it
	stopped     bool      // this loop accepts no more (LFD may be closed)

	idle     IdleList[conn, *conn] // open connections between requests, oldest first (see reclaim)
	reclaims atomic.Int32          // reclaims other loops asked of this one

	bodies sync.WaitGroup // goroutines reading a request body (see offload)

	warm engine.WarmFiles // how this loop last sent each hot file
}

// acceptPause is how long a loop stops accepting when accept(2) fails for
// want of descriptors or memory: the listener stays readable, so trying
// again at once would spin (nginx pauses too).
const acceptPause = 100 * time.Millisecond

type conn struct {
	l      *Loop
	fd     int
	sink   sink // the socket as an h1conn.Sink, kept here so passing it does not allocate
	c      *h1conn.Conn
	more   bool // input may remain in the socket: read again when there is room
	eof    bool // the peer has shut down its side
	wants  bool // level-triggered output interest is on
	closed bool
	got    bool // read input during this drive
	// unregistered: the poller refused the descriptor while its request
	// was with the pool; once answered, it gets one flush and is closed.
	unregistered bool
	polled       bool       // the descriptor is in the poller
	detached     bool       // a goroutine reads its request's body: the loop has let go of the socket (see offload)
	bs           BodyStream // the socket as that goroutine sees it

	node IdleNode[conn] // in Loop.idle
}

// IdleNode implements Idler.
func (cn *conn) IdleNode() *IdleNode[conn] { return &cn.node }

// Fresh implements Idler.
func (cn *conn) Fresh() bool { return cn.c.Fresh() }

// New creates a loop over poller p. Every loop of sh must be created
// before the first one runs.
func New(sh *Shared, p Poller) *Loop {
	sh.accepting.Add(1)
	l := &Loop{sh: sh, idx: len(sh.loops), p: p, conns: make(map[int]*conn)}
	l.in.Init(func() { _ = p.Wake() })
	sh.loops = append(sh.loops, l)
	return l
}

const sweepEvery = 250 * time.Millisecond

// Run serves until ctx is done, then drains. It closes the poller. When
// it returns (drained, past the shutdown timeout, or on a poller error) it
// has closed every connection, except those whose request is still with
// the pool: their jobs close them when they return.
func (l *Loop) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { l.p.Wake() })
	defer stop()
	// The loop waits without a timeout, woken by events, by the pool, by
	// shutdown, and by this ticker for the deadline sweep: a timeout on
	// every wait would cost a timer update each time the loop idles.
	ticker := time.NewTicker(sweepEvery)
	tickDone, tickExited := make(chan struct{}), make(chan struct{})
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
	defer l.exit(tickDone, tickExited)
	if err := l.p.AddListener(l.sh.LFD, l.sh.Exclusive); err != nil {
		return err
	}
	var drainBy time.Time
	event := l.event // one method value for every turn: no allocation per Wait
	for {
		timeout := time.Duration(-1)
		if len(l.wake) > 0 {
			timeout = 0 // turns are owed: collect new events without sleeping
		}
		if err := l.p.Wait(timeout, event); err != nil {
			return err
		}
		now := time.Now()
		for n := l.reclaims.Swap(0); n > 0; n-- {
			l.reclaim(now)
		}
		l.resume(now)
		l.streamed(now)
		l.rerun(now)
		if ctx.Err() != nil {
			if drainBy.IsZero() {
				drainBy = now.Add(l.sh.Cfg.ShutdownTimeout)
				l.stopAccepting()
				for _, cn := range l.conns {
					cn.c.Drain()
					if cn.c.Drainable() {
						// A request may already sit in the socket
						// (its edge in this turn's batch or the
						// next): drive reads it and answers it with
						// Connection: close, and closes only a
						// connection that is still idle.
						cn.more = true
						l.drive(cn, now)
					}
				}
			}
			if len(l.conns) == 0 {
				return nil
			}
			if now.After(drainBy) {
				// Past the shutdown timeout: cut the rest. A request
				// still with the pool is abandoned to its job (see
				// Job.Run), so that a handler stuck on disk cannot
				// hold Serve.
				return nil
			}
		}
		if now.After(l.sweepAt) {
			l.sweep(now)
		}
		if !l.pausedUntil.IsZero() && now.After(l.pausedUntil) && !l.stopped && ctx.Err() == nil {
			l.pausedUntil = time.Time{}
			if err := l.p.AddListener(l.sh.LFD, l.sh.Exclusive); err != nil {
				l.pauseAccept(err) // short of memory too: try again later
			}
		}
	}
}

// stopAccepting removes the listener from this loop's poller; the last
// loop to stop closes the engine's descriptors of the listening socket.
func (l *Loop) stopAccepting() {
	if l.stopped {
		return
	}
	l.stopped = true
	l.p.Remove(l.sh.LFD)
	if l.sh.accepting.Add(-1) == 0 && l.sh.CloseListener != nil {
		l.sh.CloseListener()
	}
}

// exit ends Run: it closes every connection but those with the pool,
// which it abandons to their jobs, then the poller.
func (l *Loop) exit(tickDone, tickExited chan struct{}) {
	l.stopAccepting()
	close(tickDone)
	<-tickExited
	// Which connections are the loop's to close is decided under the
	// inbox's lock: a job that returns after that drops its own
	// connection (see Job.Run), so from then on the loop may neither
	// look at its state nor use its descriptor, whose number may by then
	// be another's.
	var mine []*conn
	l.in.Exit(func(late []*conn) {
		for _, cn := range late {
			// Answered by the pool, but too late.
			cn.closed = true
			delete(l.conns, cn.fd)
			l.drop(cn)
		}
		for _, cn := range l.conns {
			switch {
			case cn.detached:
				// Its body is cut: the goroutine reading it wakes
				// to the end of input, its handler returns (and
				// removes what it wrote), and it drops the
				// connection.
				unix.Shutdown(cn.fd, unix.SHUT_RDWR)
			case !cn.c.Offloaded():
				mine = append(mine, cn)
			}
		}
	})
	for _, cn := range mine {
		l.close(cn)
	}
	// Only abandoned connections remain; their jobs drop them. Those
	// reading a body are given a moment to clean up before Serve
	// returns and the process perhaps exits.
	WaitFor(&l.bodies, BodyGrace)
	l.p.Close()
}

// offload hands cn's offloaded request off the loop: disk work to the
// pool; a request whose handler takes its body to a goroutine of its own,
// which reads the socket as a blocking stream meanwhile (see
// body_linux.go): the poller lets go of the socket until resume (a
// level-triggered poll would otherwise report its input every turn).
func (l *Loop) offload(cn *conn) {
	if !cn.c.TakesBody() {
		l.sh.Pool.Submit(Job{l, cn})
		return
	}
	if cn.polled {
		l.p.Remove(cn.fd)
		cn.polled, cn.wants = false, false
	}
	cn.detached = true
	cn.bs.Reset(cn.fd, l.sh.Cfg.WriteTimeout, nil)
	l.bodies.Add(1)
	go Job{l, cn}.Run()
}

// BodyGrace is how long an exiting loop waits for the goroutines of the
// request bodies it cut.
const BodyGrace = time.Second

// WaitFor waits for wg, at most d.
func WaitFor(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// drop closes a connection that its loop no longer drives, whose
// offloaded request's handler has returned: what the answer holds (a file,
// a cache reference) is closed too. Only the goroutine that holds cn calls
// it: the exiting loop, or the job it was abandoned to.
func (l *Loop) drop(cn *conn) {
	netpoll.CloseNB(cn.fd)
	cn.c.Abandon()
	l.sh.Conns.Add(-1)
}

func (l *Loop) event(fd int, in, out, hup bool) {
	if fd == l.sh.LFD && !l.stopped {
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
// At MaxConns it first closes this loop's oldest idle connection (see
// reclaim); with none to close it answers 503 and closes: a loop sharing
// its listener with others (and other processes) cannot leave a client in
// the backlog without starving it, as only one of them is woken per
// client.
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
	c := h1conn.NewOnLoop(l.sh.Cfg, remote, now, l.idx)
	// Count the connection first, then check: loops accepting at once
	// cannot all see room for one.
	if l.sh.Conns.Add(1) > int64(l.sh.Cfg.MaxConns) && !l.reclaim(now) && !l.reclaimElsewhere() {
		l.sh.Conns.Add(-1)
		Refuse(fd, c, now)
		return
	}
	c.SetAsync(l.sh.Pool != nil)
	c.SetBodyOffload(true)
	c.SetHeadCork(true)
	cn := &conn{l: l, fd: fd, sink: *newSink(fd), c: c, more: true}
	c.SetNotifier(cn)
	cn.sink.warm = &l.warm
	l.conns[fd] = cn
	// Serve what has already arrived (TCP_DEFER_ACCEPT makes that the
	// usual case) before registering: a connection-per-request client is
	// answered and closed without ever entering the poller. Registering
	// later loses nothing: adding a ready descriptor reports it at once.
	l.drive(cn, now)
	if cn.closed || cn.detached {
		return // a body's goroutine has the socket: resume registers it
	}
	if err := l.p.Add(fd); err != nil {
		if cn.c.Offloaded() {
			// The pool has the request: closing now would let its
			// result drive a descriptor number that may by then be
			// another client's. Resume gives it one flush and closes.
			cn.unregistered = true
			l.idle.Remove(cn)
			return
		}
		l.close(cn)
		return
	}
	cn.polled = true
	if cn.wants {
		// The first answer filled the socket before registration,
		// when output interest had nothing to attach to.
		l.p.SetWrite(fd, true)
	}
}

// Refuse answers 503 on a connection a loop will not serve and closes
// it (fd is non-blocking). The request, if it has arrived, is read first: closing a socket with
// unread input resets the connection, and the reset may destroy the 503
// before the client reads it.
func Refuse(fd int, c *h1conn.Conn, now time.Time) {
	var scratch [4 << 10]byte
	for i := 0; i < 4; i++ {
		n, err := netpoll.ReadNB(fd, scratch[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < len(scratch) {
			break
		}
	}
	c.Refuse(now)
	c.Flush(newSink(fd), now)
	c.Release()
	netpoll.ShutdownWriteNB(fd)
	netpoll.CloseNB(fd)
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
// Then it files the connection in the idle list if it is between requests.
func (l *Loop) drive(cn *conn, now time.Time) {
	cn.got = false
	l.step(cn, now)
	if cn.closed || cn.unregistered {
		return
	}
	if cn.c.Idle() && !cn.c.Lingering() {
		if cn.got {
			l.idle.Remove(cn) // busy since it was listed: idle from now
		}
		if !l.idle.Listed(cn) {
			l.idle.Push(cn, now.UnixNano())
		}
	} else {
		l.idle.Remove(cn)
	}
}

func (l *Loop) step(cn *conn, now time.Time) {
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
			l.offload(cn)
			return
		}
		if c.Pending() {
			if !c.Closing() && !cn.sink.Corked() {
				// Like nginx, disable Nagle only on connections kept
				// alive: a response's tail must not wait for the ACK
				// of its head. A connection about to close is flushed
				// by the close and saves the system call. A large
				// body's chunks go out with it too, as lighttpd's do
				// (see SetHeadCork): the cork turns it off around the
				// head and back on after.
				cn.sink.SetNoDelay()
			}
			cn.sink.budget, cn.sink.yielded = sendBudget, false
			err := c.Flush(&cn.sink, now)
			switch {
			case errors.Is(err, h1conn.ErrStreamWait):
				// The body's producer (on its own goroutine) has
				// nothing yet: Notify brings the connection back.
				l.wantWrite(cn, false)
				return
			case errors.Is(err, h1conn.ErrYield):
				l.wake = append(l.wake, cn) // as for a yielded SendFile
				return
			case errors.Is(err, h1conn.ErrWouldBlock):
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
			// h1conn.Finisher): shutdown adds the FIN to its tail.
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
			cn.got = true
			cn.c.Received(n, now)
			if n < len(space) {
				cn.more = false // a short read drained the socket
				return true
			}
		}
	}
}

// discardReads bounds the reads of one lingering connection per turn: a
// client sending as fast as the loop reads must not hold it.
const discardReads = 16

// discard reads and throws away what a lingering connection's client
// sends, closing the connection once the client closes its side or its
// lingering time is over. Past discardReads reads it yields to the other
// connections and comes back on the next turn.
func (l *Loop) discard(cn *conn, now time.Time) {
	if now.After(cn.c.Deadline()) {
		l.close(cn)
		return
	}
	for i := 0; i < discardReads; i++ {
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
	l.wake = append(l.wake, cn)
}

func (l *Loop) wantWrite(cn *conn, on bool) {
	if cn.wants != on {
		cn.wants = on
		l.p.SetWrite(cn.fd, on)
	}
}

func (l *Loop) close(cn *conn) {
	if cn.closed {
		return
	}
	cn.closed = true
	l.idle.Remove(cn)
	if !cn.unregistered {
		l.p.Forget(cn.fd)
	}
	netpoll.CloseNB(cn.fd)
	cn.c.Release()
	delete(l.conns, cn.fd)
	l.sh.Conns.Add(-1)
}

// resume finishes connections whose requests the pool has answered.
func (l *Loop) resume(now time.Time) {
	done := l.in.TakeDone()
	for i, cn := range done {
		done[i] = nil
		if cn.detached {
			// Back from its body's goroutine, which may have left
			// input in the socket: take it into the poller again
			// and read.
			cn.detached, cn.more = false, true
			if !cn.unregistered {
				if err := l.p.Add(cn.fd); err != nil {
					cn.unregistered = true
				} else {
					cn.polled = true
				}
			}
		}
		cn.c.Resume(now)
		if cn.c.Offloaded() {
			l.offload(cn)
			continue
		}
		if cn.unregistered {
			// Not in the poller (see accept): send what the socket
			// takes now, then close.
			cn.c.Flush(&cn.sink, now)
			netpoll.ShutdownWriteNB(cn.fd)
			l.close(cn)
			continue
		}
		l.drive(cn, now)
	}
}

// Notify implements h1conn.Notifier: the producer of cn's streamed body
// has filled a buffer or ended. It queues cn for its loop's next turn;
// a connection closed meanwhile is skipped there, and once the loop has
// exited nothing happens (see Inbox).
func (cn *conn) Notify() { cn.l.in.Notify(cn) }

var _ h1conn.Notifier = (*conn)(nil)

// streamed drives the connections whose streamed bodies have more bytes.
func (l *Loop) streamed(now time.Time) {
	ready := l.in.TakeReady()
	for i, cn := range ready {
		ready[i] = nil
		if !cn.closed && !cn.unregistered && !cn.c.Offloaded() {
			l.drive(cn, now)
		}
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
		if !cn.closed {
			l.drive(cn, now)
		}
	}
	l.spare = again[:0]
}

// sweep drops connections past their deadline. One that looks idle is
// read first: a request that arrived just now is answered, not dropped.
func (l *Loop) sweep(now time.Time) {
	l.sweepAt = now.Add(sweepEvery)
	for _, cn := range l.conns {
		if cn.c.Offloaded() || cn.unregistered || !cn.c.Expired(&cn.sink, now) {
			continue
		}
		if cn.c.Idle() && !cn.c.Lingering() && l.arrived(cn, now) {
			continue
		}
		l.close(cn)
	}
}

// arrived reads an idle connection's socket and reports whether a request
// has begun to arrive; if so it is queued to be driven this turn.
func (l *Loop) arrived(cn *conn, now time.Time) bool {
	cn.more = true
	if !l.read(cn, now) || cn.c.Idle() {
		return false
	}
	l.idle.Remove(cn)
	l.wake = append(l.wake, cn)
	return true
}

// reclaim makes room for a newcomer at MaxConns: it closes the
// connection IdleList.Reclaimable picks, reading each candidate's socket
// first (a request arriving just now is answered, not dropped). It
// reports whether it closed one.
func (l *Loop) reclaim(now time.Time) bool {
	cn := l.idle.Reclaimable(now.UnixNano(), func(cn *conn) bool { return l.arrived(cn, now) })
	if cn == nil {
		return false
	}
	l.close(cn)
	return true
}

// reclaimElsewhere asks the loop with the most answered idle connections
// to close its oldest on its next turn (only a loop touches its
// connections) and reports whether there was one to ask. The newcomer is
// served meanwhile, so the count may pass MaxConns by one for each
// reclaim under way, and stays past it if the other loop's connection
// turned busy in between, until a connection closes. Silent connections
// are reclaimed only by their own loop.
func (l *Loop) reclaimElsewhere() bool {
	var best *Loop
	var most int32
	for _, o := range l.sh.loops {
		if o == l {
			continue
		}
		if n := o.idle.Answered() - o.reclaims.Load(); n > most {
			best, most = o, n
		}
	}
	if best == nil {
		return false
	}
	best.reclaims.Add(1)
	best.p.Wake()
	return true
}

// sendBudget is how much file data a connection may send in one turn of
// its loop, like nginx's sendfile_max_chunk: a client that takes data as
// fast as it comes (loopback, a fast network) must not hold the loop for a
// whole large body while the other connections wait. 256 KiB, as
// lighttpd's per-connection write limit: connections sending large bodies
// take turns in small chunks (see h1conn.Conn.SetHeadCork for what it
// measured).
const sendBudget = 256 << 10

// sink writes to a non-blocking socket.
type sink struct {
	netpoll.TCPOpts // the socket (FD), TCP_NODELAY and TCP_CORK; Cork and Uncork implement h1conn.Corker
	iov             []unix.Iovec
	final           bool  // the connection closes once this output is sent
	budget          int64 // file bytes this turn may still send
	yielded         bool  // SendFile stopped for the budget, not for a full socket
	warm            *engine.WarmFiles
}

var (
	_ h1conn.Corker   = (*sink)(nil)
	_ h1conn.Finisher = (*sink)(nil)
)

// SetFinal implements h1conn.Finisher.
func (s *sink) SetFinal(final bool) { s.final = final }

func newSink(fd int) *sink { return &sink{TCPOpts: netpoll.TCPOpts{FD: fd}, budget: sendBudget} }

func (s *sink) Writev(bufs [][]byte) (int64, error) {
	n, _, err := netpoll.WritevAllNB(s.FD, bufs, &s.iov, s.final)
	if err == unix.EAGAIN {
		return n, h1conn.ErrWouldBlock
	}
	return n, err
}

func (s *sink) SendFile(f http1.File, off, n int64) (int64, error) {
	n0 := min(n, s.budget)
	m, err := s.warm.SendFileNB(s.FD, f, off, n0, &s.iov)
	s.budget -= m
	switch {
	case err == unix.EAGAIN:
		return m, h1conn.ErrWouldBlock
	case err == nil && m < n:
		s.yielded = true
		return m, h1conn.ErrWouldBlock
	}
	return m, err
}
