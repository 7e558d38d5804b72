package uring

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/evloop"
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
	iou "github.com/weft-server/weft/internal/netpoll/uring"
)

// Ring and buffer sizes of one loop.
const (
	sqEntries = 256
	cqEntries = 4096
	bufCount  = 512     // provided buffers per loop
	bufSize   = 4 << 10 // each; 2 MiB per loop in all
	bufGroup  = 1
)

// What a completion is for: the low byte of its user data; the rest is
// the connection's id (0 for the loop's own requests).
const (
	opAccept uint64 = 1 + iota
	opRecv
	opSend
	opPoll
	opCancel
)

func ud(id, op uint64) uint64 { return id<<8 | op }

const sweepEvery = 250 * time.Millisecond

// parkSkips: the kernel sets the ring's taskrun flag with an atomic OR
// that returns nothing, then reads whether the eventfd's signals are on.
// Linux orders such an OR with nothing (Documentation/atomic_t.txt)
// except where the CPU's locked instructions are full barriers (x86): only
// there may park's last look trust an unset flag and skip its enter.
const parkSkips = runtime.GOARCH == "amd64" || runtime.GOARCH == "386"

// acceptPause is how long a loop stops accepting when accept fails for
// want of descriptors or memory (as the epoll engine does).
const acceptPause = 100 * time.Millisecond

// sendBudget is how much file data a connection may send in one turn,
// as in the epoll engine: one fast client must not hold the loop.
const sendBudget = 2 << 20

type shared struct {
	cfg           *engine.Config
	lfd           int
	pool          *engine.Workers[*conn]
	closeListener func()
	conns         atomic.Int64 // open connections across loops, for MaxConns
	accepting     atomic.Int32 // loops that may still accept
	loops         []*loop
}

// loop is one ring and the connections it serves. Only its goroutine
// touches them; others reach it through its inbox (in) and wakeup.
type loop struct {
	sh   *shared
	idx  int
	ring *iou.Ring
	bufs *iou.BufRing
	// efd is the eventfd the loop waits on, in Go's netpoller: the
	// kernel writes it when completion work is queued (see park), other
	// goroutines when they hand the loop work.
	efd     int
	efdFile *os.File
	efdRC   syscall.RawConn
	drain   func(fd uintptr) bool // clearWake for efdRC.Read; made once, no allocation per wait
	conns   map[uint64]*conn
	next    uint64 // last connection id given

	// batch holds reaped completions; those before seen are handled.
	// Reaping happens at the start of a turn and also whenever the
	// submission queue fills mid-turn (see sqe): what that reaps is
	// handled in the same pass, or at the start of the next turn, which
	// then does not sleep.
	batch   []iou.CQE
	seen    int
	collect func(c *iou.CQE) // appends to batch; one method value, no allocation per turn
	dirty   []*conn          // connections with completions this turn
	wake    []*conn          // connections to drive again next turn
	spare   []*conn

	in     evloop.Inbox[*conn] // answered offloads and streamed bodies, from other goroutines
	exited bool                // run is exiting (the loop's own goroutine reads it)

	accepting   bool // the multishot accept is armed
	stopped     bool // this loop accepts no more
	pausedUntil time.Time
	warnedAt    time.Time
	sweepAt     time.Time

	idle     evloop.IdleList[conn, *conn]
	reclaims atomic.Int32

	bodies sync.WaitGroup // goroutines reading a request body (see lend)

	warm engine.WarmFiles // how this loop last sent each hot file
}

type conn struct {
	l    *loop
	id   uint64
	fd   int
	c    *h1conn.Conn
	sink sink

	stash []byte // input received while the Conn could not take it

	ops        int  // requests of this connection in the ring
	recv       bool // the multishot receive is armed
	recvCancel bool // and asked to stop
	sending    bool // a sendmsg is in flight
	sendDone   bool // it completed with sendRes, for the next Writev
	sendRes    int32
	polling    bool // waiting for the socket to take more (file bodies)
	eof        bool
	closed     bool // closing: released once ops is 0
	queued     bool // in l.dirty
	// A request whose handler takes its body is served by a goroutine of
	// its own (see lend): lending waits for the receive to end, lent is
	// set while the goroutine has the socket.
	lending bool
	lent    bool
	bs      evloop.BodyStream // the socket as that goroutine sees it

	node evloop.IdleNode[conn]
}

// IdleNode implements evloop.Idler.
func (cn *conn) IdleNode() *evloop.IdleNode[conn] { return &cn.node }

// Fresh implements evloop.Idler.
func (cn *conn) Fresh() bool { return cn.c.Fresh() }

func newLoop(sh *shared) (*loop, error) {
	// The taskrun flag (accepted with deferred task work since both
	// exist, 6.1) tells the loop when completion work waits for an
	// enter, so that a turn with nothing to submit makes no system call
	// (see Ring.SubmitAndWait).
	p := iou.Params{Entries: sqEntries, CQEntries: cqEntries,
		Flags: iou.SetupSubmitAll | iou.SetupRDisabled | iou.SetupSingleIssuer | iou.SetupDeferTaskrun | iou.SetupTaskrunFlag}
	r, err := iou.New(p)
	if errors.Is(err, unix.EINVAL) {
		// Before Linux 6.1: no deferred task work.
		p.Flags = iou.SetupSubmitAll | iou.SetupCoopTaskrun
		r, err = iou.New(p)
	}
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	f := os.NewFile(uintptr(efd), "uring-wake")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		r.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	sh.accepting.Add(1)
	l := &loop{sh: sh, idx: len(sh.loops), ring: r, efd: efd, efdFile: f, efdRC: rc, conns: make(map[uint64]*conn)}
	l.drain = func(uintptr) bool { return l.clearWake() }
	l.collect = func(c *iou.CQE) { l.batch = append(l.batch, *c) }
	l.in.Init(l.wakeNow)
	sh.loops = append(sh.loops, l)
	return l, nil
}

// free releases a loop that never ran.
func (l *loop) free() {
	l.ring.Close()
	l.efdFile.Close()
}

// sqe returns a submission entry, submitting the queue first if it is
// full.
func (l *loop) sqe() *iou.SQE {
	for {
		if e := l.ring.GetSQE(); e != nil {
			return e
		}
		if err := l.ring.Submit(); err != nil {
			l.sh.cfg.ErrorLog.Error("io_uring submit", "err", err)
		}
		l.reap() // room for the completions the submission makes
	}
}

func (l *loop) reap() { l.ring.Reap(l.collect) }

// wakeup wakes the loop from any goroutine (its own included); once the
// loop has exited it does nothing, as the eventfd is closed or about to
// be, and its number may be another file's.
func (l *loop) wakeup() { l.in.Wake() }

// clearWake reads the eventfd, zeroing its count; false when it was
// zero already. A raw read: one the scheduler sees (unix.Read) wakes Go's
// sysmon out of its deep sleep into polling every 20 µs, which cost the
// loop 5% with a connection per request.
func (l *loop) clearWake() bool {
	var b [8]byte
	_, err := netpoll.ReadNB(l.efd, b[:])
	return err != unix.EAGAIN
}

// wakeNow writes the eventfd the loop waits on (see Inbox.Init).
func (l *loop) wakeNow() {
	one := [8]byte{1}
	unix.Write(l.efd, one[:])
}

// run serves until ctx is done, then drains; see engine.Engine.
func (l *loop) run(ctx context.Context) error {
	// The ring is single-issuer: only this thread may submit to it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if l.ring.Flags()&iou.SetupRDisabled != 0 {
		if err := l.ring.Enable(); err != nil {
			l.free()
			l.sh.accepting.Add(-1)
			return err
		}
	}
	bufs, err := l.ring.RegisterBufRing(bufGroup, bufCount, bufSize)
	if err != nil {
		l.free()
		l.sh.accepting.Add(-1)
		return fmt.Errorf("%w: %v", iou.ErrUnsupported, err)
	}
	l.bufs = bufs
	if err := l.ring.RegisterEventfd(l.efd); err != nil {
		bufs.Close() // nothing was submitted: the kernel holds none of them
		l.free()
		l.sh.accepting.Add(-1)
		return fmt.Errorf("%w: %v", iou.ErrUnsupported, err)
	}
	l.ring.SetEventfd(false)
	stop := context.AfterFunc(ctx, l.wakeup)
	defer stop()
	defer l.exit()
	l.armAccept()
	var drainBy time.Time
	for {
		// Submit the turn's operations and collect what is ready
		// without blocking; only when nothing is, wait (park).
		if err := l.ring.SubmitAndWait(0, 0); err != nil {
			return err
		}
		l.reap()
		if len(l.wake) == 0 && l.seen == len(l.batch) {
			if err := l.park(); err != nil {
				return err
			}
		}
		now := time.Now()
		l.completeAll(now)
		for i, cn := range l.dirty {
			l.dirty[i] = nil
			cn.queued = false
			l.drive(cn, now)
		}
		l.dirty = l.dirty[:0]
		for n := l.reclaims.Swap(0); n > 0; n-- {
			l.reclaim(now)
		}
		l.resume(now)
		l.streamed(now)
		l.rerun(now)
		if ctx.Err() != nil {
			if drainBy.IsZero() {
				drainBy = now.Add(l.sh.cfg.ShutdownTimeout)
				l.stopAccepting()
				for _, cn := range l.conns {
					cn.c.Drain()
					if !cn.closed && cn.c.Drainable() {
						l.drive(cn, now)
					}
				}
			}
			if len(l.conns) == 0 {
				return nil
			}
			if now.After(drainBy) {
				return nil
			}
		}
		if now.After(l.sweepAt) {
			l.sweep(now)
		}
		if !l.pausedUntil.IsZero() && now.After(l.pausedUntil) && !l.stopped && ctx.Err() == nil {
			l.pausedUntil = time.Time{}
			l.armAccept()
		}
	}
}

// park waits until there is work: completions, or completion work the
// kernel queued for the loop's next enter (a deferred-task-work ring runs
// it only there), or a wakeup from another goroutine, or the sweep. It
// waits in Go's netpoller for the eventfd, not in io_uring_enter: a
// thread blocked in a system call keeps Go's sysmon polling every 20 µs
// to take its P back, and takes it back through the scheduler when it
// returns, which cost as much CPU as the ring saved (a tenth of the
// loop's time in context switches under load). The kernel's signals are
// turned on only for the wait: the last look for completions comes after
// they are on, so nothing queued before it is missed, and what is queued
// after it signals the eventfd. Where the kernel's setting of the
// taskrun flag is ordered before its reading of whether signals are on
// (parkSkips), that look enters the kernel only if the flag shows
// completion work queued: the loop turns the signals on before it reads
// the flag, so one of the two sees the other. Elsewhere it always enters.
func (l *loop) park() error {
	l.ring.SetEventfd(true)
	defer l.ring.SetEventfd(false)
	look := l.ring.Enter
	if parkSkips {
		look = l.ring.Submit
	}
	if err := look(); err != nil {
		return err
	}
	if l.reap(); l.seen == len(l.batch) && l.ring.TaskrunPending() {
		// Completion work still flagged after the enter, and none
		// of it posted: the kernel runs a bounded amount per enter
		// (since 6.13) and flags the rest without writing the
		// eventfd. Enter once more. Not until the flag clears: a
		// flag raised by work that a run already in progress then
		// took stays set with nothing queued (no enter clears it),
		// and waiting on it would spin.
		if err := l.ring.Enter(); err != nil {
			return err
		}
		l.reap()
	}
	if l.seen < len(l.batch) {
		// Posting them wrote the eventfd (its signals were on):
		// clear it, or the next park would return at once for
		// nothing. The turn that follows looks for completions
		// again before anything could wait on it.
		l.clearWake()
		return nil
	}
	l.efdFile.SetReadDeadline(time.Now().Add(max(time.Until(l.sweepAt), time.Millisecond)))
	if err := l.efdRC.Read(l.drain); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return nil
}

func (l *loop) armAccept() {
	if l.accepting || l.stopped {
		return
	}
	l.accepting = true
	l.sqe().PrepAcceptMultishot(l.sh.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, ud(0, opAccept))
}

// stopAccepting cancels this loop's accept; the last loop to stop closes
// the engine's descriptors of the listening socket. The cancel is
// submitted at once: the accept holds the listener open until it ends.
func (l *loop) stopAccepting() {
	if l.stopped {
		return
	}
	l.stopped = true
	if l.accepting {
		l.sqe().PrepCancel(ud(0, opAccept), ud(0, opCancel))
		l.ring.Submit()
	}
	if l.sh.accepting.Add(-1) == 0 && l.sh.closeListener != nil {
		l.sh.closeListener()
	}
}

// exit ends run: it closes every connection but those with the pool
// (abandoned to their jobs), waits a little for the ring to give back
// what it holds, then closes the ring.
func (l *loop) exit() {
	l.stopAccepting()
	// Which connections are the loop's to close is decided under the
	// inbox's lock: a job that returns after that closes its own
	// connection (see conn.Run), so from then on the loop may not look
	// at its state.
	var mine []*conn
	l.exited = true
	l.in.Exit(func(late []*conn) {
		back := make(map[*conn]bool, len(late))
		for _, cn := range late {
			cn.lent = false // back from its body's goroutine, if lent
			back[cn] = true // answered too late: closed (its answer's sources with it, see finish)
		}
		for _, cn := range l.conns {
			switch {
			case cn.closed:
			case back[cn]:
				mine = append(mine, cn)
			case cn.lent:
				// Its body is cut: the goroutine reading it wakes
				// to the end of input, its handler returns (and
				// removes what it wrote), and it drops the
				// connection (see handBack).
				unix.Shutdown(cn.fd, unix.SHUT_RDWR)
			case cn.c.Offloaded():
				l.cancelOps(cn) // the job closes it
			default:
				mine = append(mine, cn)
			}
		}
	})
	for _, cn := range mine {
		l.close(cn)
	}
	// Wait for the kernel to finish with what it holds of ours (the bytes
	// of sends in flight, the provided buffers): at most a second.
	deadline := time.Now().Add(time.Second)
	for l.pendingOps() && time.Now().Before(deadline) {
		l.ring.SubmitAndWait(1, 50*time.Millisecond)
		l.reap()
		l.completeAll(time.Now())
	}
	clean := !l.pendingOps()
	l.ring.Close()
	if clean {
		l.bufs.Free()
	} // else the kernel may still write them: leave them mapped
	l.efdFile.Close()
	for _, cn := range l.conns {
		if cn.lending {
			// Never lent: no goroutine will drop it.
			netpoll.CloseNB(cn.fd)
			cn.c.Abandon()
			l.sh.conns.Add(-1)
		}
	}
	// Those reading a body are given a moment to clean up before Serve
	// returns and the process perhaps exits.
	evloop.WaitFor(&l.bodies, evloop.BodyGrace)
}

func (l *loop) pendingOps() bool {
	for _, cn := range l.conns {
		if cn.ops > 0 {
			return true
		}
	}
	return false
}

// completeAll handles the reaped completions not yet handled, those that
// handling them reaps included, then gives the kernel back the buffers
// they freed.
func (l *loop) completeAll(now time.Time) {
	for l.seen < len(l.batch) {
		c := l.batch[l.seen]
		l.seen++
		l.complete(c, now)
	}
	l.batch, l.seen = l.batch[:0], 0
	l.bufs.Publish()
}

// complete handles one completion.
func (l *loop) complete(c iou.CQE, now time.Time) {
	op, id := c.UserData&0xff, c.UserData>>8
	switch op {
	case opAccept:
		l.accepted(&c, now)
		return
	case opCancel:
		return
	}
	cn := l.conns[id]
	if cn == nil {
		if bid, ok := c.Buffer(); ok {
			l.bufs.Recycle(bid)
		}
		return
	}
	switch op {
	case opRecv:
		if !c.More() {
			cn.recv, cn.recvCancel = false, false
			cn.ops--
		}
		l.received(cn, &c, now)
		if cn.lending && !cn.recv && !l.exited {
			l.lendNow(cn)
		}
	case opSend:
		cn.sending, cn.sendDone, cn.sendRes = false, true, c.Res
		cn.ops--
	case opPoll:
		cn.polling = false
		cn.ops--
	}
	if cn.closed {
		cn.sendDone = false
		if cn.ops == 0 {
			l.finish(cn)
		}
		return
	}
	if !cn.queued {
		cn.queued = true
		l.dirty = append(l.dirty, cn)
	}
}

// received takes a receive completion's data into the Conn, or into the
// stash when the Conn cannot take it now.
func (l *loop) received(cn *conn, c *iou.CQE, now time.Time) {
	bid, ok := c.Buffer()
	switch {
	case c.Res == 0:
		cn.eof = true
	case c.Res < 0:
		switch unix.Errno(-c.Res) {
		case unix.ENOBUFS, unix.ECANCELED:
			// Out of buffers (armed again next turn) or stopped.
		default:
			cn.eof = true // reset by the peer: like an end of input
		}
	}
	if !ok {
		return
	}
	defer l.bufs.Recycle(bid)
	if cn.closed || c.Res <= 0 {
		return
	}
	data := l.bufs.Bytes(bid, int(c.Res))
	l.idle.Remove(cn) // busy: idle again, if at all, from the end of this turn
	if cn.c.Lingering() {
		cn.c.Received(len(data), now) // thrown away; counts as activity
		return
	}
	if len(cn.stash) == 0 && !cn.c.Offloaded() {
		data = data[l.feed(cn, data, now):]
	}
	if len(data) > 0 {
		cn.stash = append(cn.stash, data...)
		// Back-pressure: the Conn is full (or with the pool), so stop
		// receiving until it has taken the stash; the kernel keeps the
		// rest in the socket.
		if cn.recv && !cn.recvCancel {
			cn.recvCancel = true
			l.sqe().PrepCancel(ud(cn.id, opRecv), ud(cn.id, opCancel))
		}
	}
}

// feed copies what the Conn has room for from p and returns how much.
func (l *loop) feed(cn *conn, p []byte, now time.Time) int {
	n := 0
	for n < len(p) {
		space := cn.c.ReadSpace()
		if len(space) == 0 {
			break
		}
		k := copy(space, p[n:])
		cn.c.Received(k, now)
		n += k
	}
	return n
}

// armRecv arms the connection's multishot receive if it should read and
// does not.
func (l *loop) armRecv(cn *conn) {
	if cn.recv || cn.eof || cn.closed || cn.lending || cn.lent || len(cn.stash) > 0 {
		return
	}
	cn.recv = true
	cn.ops++
	l.sqe().PrepRecvMultishot(cn.fd, bufGroup, ud(cn.id, opRecv))
}

// accepted handles a completion of the multishot accept.
func (l *loop) accepted(c *iou.CQE, now time.Time) {
	if !c.More() {
		l.accepting = false
	}
	if c.Res < 0 {
		switch err := unix.Errno(-c.Res); {
		case err == unix.ECANCELED:
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			l.pauseAccept(err, now)
		case !netpoll.TemporaryAcceptError(err) && err != unix.EAGAIN:
			l.sh.cfg.ErrorLog.Error("accept", "err", err)
		}
		if !l.accepting && l.pausedUntil.IsZero() {
			l.armAccept()
		}
		return
	}
	if !l.accepting && l.pausedUntil.IsZero() {
		l.armAccept()
	}
	fd := int(c.Res)
	hc := h1conn.NewOnLoop(l.sh.cfg, netpoll.PeerNB(fd), now, l.idx)
	if l.sh.conns.Add(1) > int64(l.sh.cfg.MaxConns) && !l.reclaim(now) && !l.reclaimElsewhere() {
		l.sh.conns.Add(-1)
		evloop.Refuse(fd, hc, now)
		return
	}
	if l.stopped {
		hc.Drain() // accepted as the engine stopped: answer once, then close
	}
	hc.SetAsync(true)
	hc.SetBodyOffload(true)
	l.next++
	cn := &conn{l: l, id: l.next, fd: fd, c: hc}
	cn.sink = sink{cn: cn, tcp: netpoll.TCPOpts{FD: fd}}
	hc.SetNotifier(cn)
	l.conns[cn.id] = cn
	l.armRecv(cn)
	l.idle.Push(cn, now.UnixNano())
}

// pauseAccept stops accepting for acceptPause, warning at most every ten
// seconds.
func (l *loop) pauseAccept(err error, now time.Time) {
	if l.accepting {
		l.sqe().PrepCancel(ud(0, opAccept), ud(0, opCancel))
	}
	l.pausedUntil = now.Add(acceptPause)
	if now.Sub(l.warnedAt) >= 10*time.Second {
		l.warnedAt = now
		l.sh.cfg.ErrorLog.Warn("accept failed; pausing new connections", "err", err, "pause", acceptPause)
	}
}

// drive moves a connection as far as it can go now, then files it in
// the idle list if it is between requests and arms its receive.
func (l *loop) drive(cn *conn, now time.Time) {
	l.step(cn, now)
	if cn.closed {
		return
	}
	if cn.c.Idle() && !cn.c.Lingering() {
		if !l.idle.Listed(cn) {
			l.idle.Push(cn, now.UnixNano())
		}
	} else {
		l.idle.Remove(cn)
	}
	l.armRecv(cn)
}

func (l *loop) step(cn *conn, now time.Time) {
	c := cn.c
	if c.Lingering() {
		cn.stash = cn.stash[:0]
		if cn.eof || now.After(c.Deadline()) {
			l.close(cn)
		}
		return
	}
	for pass := 0; pass < 8; pass++ {
		if c.Offloaded() || cn.sending || cn.polling {
			return // the pool or the ring has it
		}
		if len(cn.stash) > 0 {
			n := l.feed(cn, cn.stash, now)
			cn.stash = cn.stash[:copy(cn.stash, cn.stash[n:])]
		}
		c.Process(now)
		if c.Offloaded() {
			l.offload(cn)
			return
		}
		if c.Pending() || cn.sendDone {
			if !c.Closing() && !cn.sink.tcp.Corked() && c.PendingFileBytes() < h1conn.CorkAbove {
				cn.sink.tcp.SetNoDelay() // as the epoll engine does (see evloop)
			}
			cn.sink.budget, cn.sink.yielded = sendBudget, false
			err := c.Flush(&cn.sink, now)
			switch {
			case errors.Is(err, h1conn.ErrStreamWait):
				return // Notify brings it back
			case errors.Is(err, h1conn.ErrYield):
				l.wake = append(l.wake, cn)
				return
			case errors.Is(err, h1conn.ErrWouldBlock):
				if cn.sink.yielded {
					l.wake = append(l.wake, cn)
				}
				return // a send or a poll is in the ring
			case err != nil:
				l.close(cn)
				return
			}
		}
		if c.Done() || (cn.eof && !c.Pending()) {
			if c.Lingers() && !cn.eof {
				netpoll.ShutdownWriteNB(cn.fd)
				c.StartLinger(now)
				cn.stash = cn.stash[:0]
				return // the receive goes on, dropping what comes
			}
			l.close(cn)
			return
		}
		if len(cn.stash) == 0 && !c.Stalled() {
			return
		}
	}
	l.wake = append(l.wake, cn)
}

// close closes a connection: its requests in the ring are cancelled, and
// once none is left (finish) its socket is closed and its Conn released.
func (l *loop) close(cn *conn) {
	if cn.closed {
		return
	}
	cn.closed = true
	l.idle.Remove(cn)
	l.cancelOps(cn)
	if cn.ops == 0 {
		l.finish(cn)
	}
}

func (l *loop) cancelOps(cn *conn) {
	if cn.recv && !cn.recvCancel {
		cn.recvCancel = true
		l.sqe().PrepCancel(ud(cn.id, opRecv), ud(cn.id, opCancel))
	}
	if cn.sending {
		l.sqe().PrepCancel(ud(cn.id, opSend), ud(cn.id, opCancel))
	}
	if cn.polling {
		l.sqe().PrepCancel(ud(cn.id, opPoll), ud(cn.id, opCancel))
	}
}

func (l *loop) finish(cn *conn) {
	netpoll.CloseNB(cn.fd)
	cn.c.Abandon() // Release, and what an answer never resumed holds (see exit)
	cn.stash = nil
	delete(l.conns, cn.id)
	l.sh.conns.Add(-1)
}

// offload hands cn's offloaded request off the loop: disk work to the
// pool, a request whose handler takes its body to a goroutine (lend).
func (l *loop) offload(cn *conn) {
	if !cn.c.TakesBody() {
		l.sh.pool.Submit(cn)
		return
	}
	l.lend(cn)
}

// lend lends cn's socket to a goroutine of its own that serves the
// request whose handler takes its body, as the epoll engine does (see
// evloop's body_linux.go): the goroutine reads the socket as a blocking
// stream while the loop serves its other connections. No one else may
// read the socket meanwhile, so the multishot receive is cancelled
// first; what it received before its last completion, in the stash, is
// part of the body: the stream returns it first. The connection stays
// counted (MaxConns) and out of the idle list, and the sweep leaves it
// alone (it is Offloaded) until the goroutine hands it back (handBack,
// then resume re-arms the receive).
func (l *loop) lend(cn *conn) {
	l.idle.Remove(cn)
	cn.lending = true
	if cn.recv {
		if !cn.recvCancel {
			cn.recvCancel = true
			l.sqe().PrepCancel(ud(cn.id, opRecv), ud(cn.id, opCancel))
		}
		return // its last completion lends it (see complete)
	}
	l.lendNow(cn)
}

// lendNow starts the goroutine of a lending connection whose receive has
// ended. The goroutine reads the stash first (the loop leaves it alone
// meanwhile); resume takes back what it leaves.
func (l *loop) lendNow(cn *conn) {
	cn.lending, cn.lent = false, true
	cn.bs.Reset(cn.fd, l.sh.cfg.WriteTimeout, cn.stash)
	l.bodies.Add(1)
	go cn.serveBody()
}

// serveBody serves a lent connection's request on its own goroutine.
func (cn *conn) serveBody() {
	defer cn.l.bodies.Done()
	cn.c.ServeBody(&cn.bs)
	cn.handBack()
}

// Run answers an offloaded request on a worker and hands the connection
// back to its loop (engine.Runner).
func (cn *conn) Run() {
	cn.c.ServeOffloaded()
	cn.handBack()
}

// handBack gives the connection of an answered offloaded request back to
// its loop; if the loop has exited meanwhile, it closes it.
func (cn *conn) handBack() {
	l := cn.l
	if !l.in.HandBack(cn) {
		netpoll.CloseNB(cn.fd)
		cn.c.Abandon()
		l.sh.conns.Add(-1)
	}
}

// Notify implements h1conn.Notifier (see the epoll engine's).
func (cn *conn) Notify() { cn.l.in.Notify(cn) }

var (
	_ h1conn.Notifier = (*conn)(nil)
	_ engine.Runner   = (*conn)(nil)
)

func (l *loop) resume(now time.Time) {
	done := l.in.TakeDone()
	for i, cn := range done {
		done[i] = nil
		if cn.lent {
			// Back from its body's goroutine, which may not have
			// read all that the ring received before (the next
			// request, say): the loop takes it first, then receives
			// again (drive arms the receive). It is the stash's tail:
			// move it to the front.
			cn.lent = false
			cn.stash = cn.stash[:copy(cn.stash[:cap(cn.stash)], cn.bs.Held())]
		}
		cn.c.Resume(now)
		if cn.c.Offloaded() {
			l.offload(cn)
			continue
		}
		l.drive(cn, now)
	}
}

func (l *loop) streamed(now time.Time) {
	ready := l.in.TakeReady()
	for i, cn := range ready {
		ready[i] = nil
		if !cn.closed && !cn.c.Offloaded() {
			l.drive(cn, now)
		}
	}
}

func (l *loop) rerun(now time.Time) {
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

// sweep drops connections past their deadline. Input reaches a loop as
// completions, so an idle connection whose request has begun to arrive is
// no longer idle: no read is needed to tell.
func (l *loop) sweep(now time.Time) {
	l.sweepAt = now.Add(sweepEvery)
	for _, cn := range l.conns {
		if cn.closed || cn.c.Offloaded() || !cn.c.Expired(&cn.sink, now) {
			continue
		}
		l.close(cn)
	}
}

// reclaim closes the connection evloop.IdleList.Reclaimable picks to
// make room for a newcomer at MaxConns. Input reaches a loop as
// completions, so one whose request has begun to arrive is busy already:
// no read is needed to tell.
func (l *loop) reclaim(now time.Time) bool {
	cn := l.idle.Reclaimable(now.UnixNano(), busy)
	if cn == nil {
		return false
	}
	l.close(cn)
	return true
}

func busy(cn *conn) bool { return len(cn.stash) > 0 || !cn.c.Idle() }

// reclaimElsewhere asks the loop with the most answered idle connections
// to close its oldest on its next turn (see evloop).
func (l *loop) reclaimElsewhere() bool {
	var best *loop
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
	best.wakeup()
	return true
}

// sink turns the Conn's flushes into ring operations: Writev queues a
// sendmsg of the bytes and reports ErrWouldBlock; once it completes, the
// next Flush finds the same bytes first in line and Writev reports the
// result. The bytes stay valid meanwhile: the loop neither processes
// nor flushes a connection with a send in flight, so the queue is left
// as it was.
type sink struct {
	cn      *conn
	tcp     netpoll.TCPOpts // TCP_NODELAY and TCP_CORK
	iov     []unix.Iovec
	msg     unix.Msghdr
	budget  int64
	yielded bool
	blocked bool // output just went to the ring (see SendQueue)
}

var (
	_ h1conn.Corker     = (*sink)(nil)
	_ h1conn.SendQueuer = (*sink)(nil)
)

// SendQueue implements h1conn.SendQueuer without a system call per
// response. Flush asks right after output went to the ring: the answer
// is "more than the queue can hold", so that at the write deadline (the
// only other caller) the socket's real queue, asked then, counts as
// progress once; from then on the client must keep taking bytes, as with
// the epoll engine. A client that takes nothing is so dropped two write
// timeouts after output blocked, not one.
func (s *sink) SendQueue() int {
	if s.blocked {
		s.blocked = false
		return math.MaxInt32
	}
	return netpoll.SendQueue(s.tcp.FD)
}

// Cork implements h1conn.Corker.
func (s *sink) Cork() { s.tcp.Cork() }

// Uncork implements h1conn.Corker.
func (s *sink) Uncork() { s.tcp.Uncork() }

func (s *sink) Writev(bufs [][]byte) (int64, error) {
	cn := s.cn
	if cn.sendDone {
		cn.sendDone = false
		if cn.sendRes < 0 {
			return 0, unix.Errno(-cn.sendRes)
		}
		return int64(cn.sendRes), nil
	}
	s.iov = s.iov[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			v := unix.Iovec{Base: unsafe.SliceData(b)}
			v.SetLen(len(b))
			s.iov = append(s.iov, v)
		}
	}
	if len(s.iov) == 0 {
		return 0, nil
	}
	s.msg.Iov = &s.iov[0]
	s.msg.SetIovlen(len(s.iov))
	cn.sending = true
	cn.ops++
	cn.l.sqe().PrepSendmsg(cn.fd, &s.msg, unix.MSG_NOSIGNAL, ud(cn.id, opSend))
	s.blocked = true
	return 0, h1conn.ErrWouldBlock
}

// SendFile sends a file segment with sendfile(2) from the loop, at most
// the turn's budget, without telling Go's scheduler when the file's
// pages were resident last time (engine.WarmFiles): a scheduler-aware
// call that runs a millisecond has sysmon hand the loop's P away and back
// (at 10 MiB, four times the context switches of the epoll engine's
// loop). When the socket is full it arms a poll for it.
func (s *sink) SendFile(f http1.File, off, n int64) (int64, error) {
	n0 := min(n, s.budget)
	m, err := s.cn.l.warm.SendFileNB(s.tcp.FD, f, off, n0, &s.iov)
	s.budget -= m
	switch {
	case err == unix.EAGAIN:
		cn := s.cn
		cn.polling = true
		cn.ops++
		cn.l.sqe().PrepPollAdd(cn.fd, unix.POLLOUT, ud(cn.id, opPoll))
		s.blocked = true
		return m, h1conn.ErrWouldBlock
	case err == nil && m < n:
		s.yielded = true
		return m, h1conn.ErrWouldBlock
	}
	return m, err
}
