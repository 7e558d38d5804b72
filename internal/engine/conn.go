package engine

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Conn is the protocol state of one connection, shared by every engine:
// bytes go in through ReadSpace and Received, Process parses and answers
// every complete request (pipelined ones in order), and Flush sends the
// queued responses to a Sink. An engine only moves bytes and waits.
//
// An idle connection holds no buffers: the input buffer and the request
// state (request, response plan, output queue) come from pools when bytes
// arrive and go back once the answer is sent, so 10,000 idle keep-alive
// connections cost a few hundred bytes each.
//
// A Conn is not safe for concurrent use, except Drain, Draining and
// Fresh, which any goroutine may call.
type Conn struct {
	cfg    *Config
	remote netip.AddrPort

	in      *[]byte // read buffer, taken from a pool only while needed
	r, w    int     // unread bytes are (*in)[r:w]
	scanned int     // bytes of the unread head already searched for its end
	discard int64   // request body bytes still to be skipped

	st *state // per-request state, taken from a pool only while needed

	reqStart   int64 // first byte of the request being received (UnixNano)
	lastActive int64 // last completed read or write
	opened     int64

	closing   bool // answer no more requests; close once out drains
	keep      bool // the request being answered leaves the connection open
	async     bool // hand disk work to a worker (see SetAsync)
	offloaded bool // a request waits for its handler on a worker
	stalled   bool // Process stopped at maxBacklog with requests still buffered
	linger    bool // the client may still be sending input that will not be read

	lingerUntil int64 // lingering close under way until then (UnixNano); 0: not lingering

	draining atomic.Bool
	answered atomic.Bool // at least one response was queued
}

// state is what a connection needs only while a request is in flight.
type state struct {
	req   http1.Request
	resp  http1.Response
	clock http1.Clock
	out   outQueue
	rec   http1.Record
}

// maxBacklog bounds the output queued before Process stops parsing
// pipelined requests; the rest wait, unread, in the input buffer.
const maxBacklog = 256 << 10

const readChunk = 4 << 10

// maxPooledOut is the largest output buffer kept when state goes back
// to the pool.
const maxPooledOut = 64 << 10

var (
	bufPool   = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}
	statePool = sync.Pool{New: func() any { return new(state) }}
)

// NewConn returns the state of a connection from remote, opened at now.
func NewConn(cfg *Config, remote netip.AddrPort, now time.Time) *Conn {
	n := now.UnixNano()
	return &Conn{cfg: cfg, remote: remote, lastActive: n, opened: n}
}

func (c *Conn) state() *state {
	if c.st == nil {
		c.st = statePool.Get().(*state)
	}
	return c.st
}

// releaseState returns the request state to the pool once nothing needs
// it: no output pending and no request with its handler.
func (c *Conn) releaseState() {
	st := c.st
	if st == nil || st.out.pending() || c.offloaded {
		return
	}
	c.st = nil
	st.out.reset()
	if cap(st.out.buf) > maxPooledOut {
		st.out.buf = nil
	}
	st.req.Reset()
	st.resp.Reset()
	st.rec = http1.Record{}
	statePool.Put(st)
}

// ReadSpace returns free space at the end of the input buffer to read
// into. It is empty when the unprocessed input already fills the most a
// connection may buffer (a full head plus a read's worth): the engine must
// then stop reading until Process or Flush makes room.
func (c *Conn) ReadSpace() []byte {
	if c.in == nil {
		c.in = bufPool.Get().(*[]byte)
	}
	b := *c.in
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if len(b)-c.w < readChunk/2 {
		if c.r > 0 {
			c.w = copy(b, b[c.r:c.w])
			c.r = 0
		}
		if len(b)-c.w < readChunk/2 && len(b) < c.cfg.Limits.MaxHeadBytes+readChunk {
			nb := make([]byte, 2*len(b))
			copy(nb, b[:c.w])
			*c.in = nb
			b = nb
		}
	}
	return b[c.w:]
}

// Received accounts for n bytes read into the space ReadSpace returned.
// While lingering it throws them away.
func (c *Conn) Received(n int, now time.Time) {
	if n <= 0 {
		return
	}
	if c.lingerUntil != 0 {
		c.r, c.w = 0, 0
		return
	}
	t := now.UnixNano()
	if c.r == c.w && c.discard == 0 {
		c.reqStart = t
	}
	c.w += n
	c.lastActive = t
}

// Process answers every complete request in the input buffer, queueing the
// responses, until the input runs out, the output backlog is full, or the
// connection is to close.
func (c *Conn) Process(now time.Time) {
	if c.offloaded {
		return
	}
	for !c.closing && !c.offloaded && c.queued() < maxBacklog {
		if c.discard > 0 {
			n := int64(c.w - c.r)
			if n > c.discard {
				n = c.discard
			}
			c.r += int(n)
			c.discard -= n
			if c.discard > 0 {
				break
			}
		}
		if c.r == c.w {
			break
		}
		buf := (*c.in)[c.r:c.w]
		n := http1.HeadLength(buf, c.scanned)
		if n < 0 {
			c.scanned = len(buf)
			if len(buf) >= c.cfg.Limits.MaxHeadBytes {
				c.fail(http1.OversizeStatus(buf, c.cfg.Limits), now)
			}
			break
		}
		c.scanned = 0
		st := c.state()
		err := st.req.ParseHead(buf[:n], c.cfg.Limits)
		c.r += n
		if err != nil {
			c.fail(http1.StatusOf(err), now)
			break
		}
		c.serve(now)
		if c.r < c.w {
			c.reqStart = now.UnixNano()
		}
	}
	c.stalled = !c.closing && !c.offloaded && c.queued() >= maxBacklog && c.r < c.w
	if !c.offloaded {
		c.releaseInput() // the request views the buffer until it is answered
		c.releaseState()
	}
}

func (c *Conn) queued() int64 {
	if c.st == nil {
		return 0
	}
	return c.st.out.queued
}

// releaseInput returns the input buffer to the pool when it holds nothing,
// so an idle connection costs no buffer.
func (c *Conn) releaseInput() {
	if c.in != nil && c.r == c.w {
		if cap(*c.in) == readChunk {
			bufPool.Put(c.in)
		}
		c.in, c.r, c.w = nil, 0, 0
	}
}

// serve answers the request just parsed, or, for an asynchronous
// connection whose handler cannot answer from memory, marks it Offloaded.
func (c *Conn) serve(now time.Time) {
	st := c.st
	req, resp := &st.req, &st.resp
	resp.Reset()
	c.keep = req.KeepAlive && !c.draining.Load()
	switch {
	case req.ContentLength > c.cfg.MaxBodyBytes:
		http1.ErrorPage(resp, 413)
		c.keep, c.linger = false, true
		c.finish(now)
		return
	case req.Chunked:
		// weft takes no request bodies; without decoding the chunks it
		// cannot find the next request, so it answers and closes.
		c.keep, c.linger = false, true
	case req.ContentLength > 0:
		if len(req.Expect) > 0 {
			// The client waits for 100-continue before sending the
			// body (or for a while, then sends it anyway); a final
			// answer and a close is simplest.
			c.keep, c.linger = false, true
		} else {
			c.discard = req.ContentLength
		}
	}
	if mh, ok := c.cfg.Handler.(http1.MemoryHandler); !ok || !mh.ServeFromMemory(req, resp) {
		if c.async {
			c.offloaded = true
			return
		}
		c.cfg.Handler.ServeHTTP1(req, resp)
	}
	c.finish(now)
}

// SetAsync makes Process hand requests that need disk work to a worker:
// it stops with Offloaded true; the engine calls ServeOffloaded on another
// goroutine, then Resume on the connection's own.
func (c *Conn) SetAsync(on bool) { c.async = on }

// Offloaded reports whether a request waits for ServeOffloaded.
func (c *Conn) Offloaded() bool { return c.offloaded }

// ServeOffloaded runs the handler for the offloaded request. It may block
// on disk; it touches nothing but the request and the response plan.
func (c *Conn) ServeOffloaded() { c.cfg.Handler.ServeHTTP1(&c.st.req, &c.st.resp) }

// Resume queues the offloaded request's response and goes on processing.
func (c *Conn) Resume(now time.Time) {
	c.offloaded = false
	c.finish(now)
	c.Process(now)
}

func (c *Conn) finish(now time.Time) {
	if c.st.resp.Close {
		c.keep = false
	}
	c.queue(now, c.keep, c.st.req.Method == http1.MethodHead)
}

// fail answers a request that could not be parsed, then closes.
func (c *Conn) fail(status int, now time.Time) {
	st := c.state()
	st.resp.Reset()
	http1.ErrorPage(&st.resp, status)
	c.linger = true // what follows the bad input is unknown
	c.queue(now, false, false)
}

func (c *Conn) queue(now time.Time, keep, head bool) {
	st := c.st
	resp, out := &st.resp, &st.out
	start := len(out.buf)
	out.buf = http1.AppendHead(out.buf, resp, st.req.Minor, keep, st.clock.Date(now))
	out.appendOwned(start)
	var body int64
	if !head && http1.BodyAllowed(resp.Status) {
		body = resp.ContentLength()
		switch {
		case resp.File != nil:
			out.addFile(resp.File, resp.Off, resp.Len)
		case len(resp.Parts) > 0:
			for i := range resp.Parts {
				p := &resp.Parts[i]
				out.addBytes(p.Head)
				out.addBytes(p.Data)
				if p.File != nil {
					out.addFile(p.File, p.Off, p.Len)
				}
			}
		default:
			out.addBytes(resp.Body)
		}
	}
	out.addCloser(resp.Closer)
	if !keep {
		c.closing = true
	}
	if !c.answered.Load() {
		c.answered.Store(true) // once: an atomic store per request would be waste
	}
	if c.cfg.Log != nil {
		req := &st.req
		st.rec = http1.Record{
			Remote: c.remote, Time: now,
			Method: req.MethodName, Target: req.Target, Major: req.Major, Minor: req.Minor,
			Status: resp.Status, Bytes: body,
			Referer: req.Referer, UserAgent: req.UserAgent,
		}
		c.cfg.Log.Log(&st.rec)
	}
	resp.Closer = nil
}

// Closing reports whether the connection closes after its queued output.
func (c *Conn) Closing() bool { return c.closing }

// LingerTime bounds a lingering close (like nginx's lingering_timeout);
// a shorter idle timeout bounds it too.
const LingerTime = 5 * time.Second

// Lingers reports whether the connection, once Done, should end with a
// lingering close: it answered before reading all the client sent (a
// body it refused, input after a malformed request or after the last
// request), and closing a socket with unread input sends a reset that may
// destroy the answer before the client reads it (RFC 9112 §9.6). The
// engine then shuts down its sending side, calls StartLinger, and reads
// and throws away input until the client closes or Deadline passes. A
// draining connection closes at once.
func (c *Conn) Lingers() bool {
	return c.closing && c.lingerUntil == 0 && !c.draining.Load() && (c.linger || c.r < c.w || c.discard > 0)
}

// StartLinger begins the lingering close at now.
func (c *Conn) StartLinger(now time.Time) {
	c.lingerUntil = now.Add(min(LingerTime, c.cfg.IdleTimeout)).UnixNano()
	c.r, c.w, c.discard = 0, 0, 0
}

// Lingering reports whether a lingering close is under way.
func (c *Conn) Lingering() bool { return c.lingerUntil != 0 }

// Stalled reports whether buffered requests wait for the output backlog
// to drain: once Flush has sent it, Process has more to do even if no
// byte arrives.
func (c *Conn) Stalled() bool { return c.stalled }

// PendingFileBytes is how much of the queued output is file segments (to
// be sent with sendfile): an engine may cork the socket around them.
func (c *Conn) PendingFileBytes() int64 {
	if c.st == nil {
		return 0
	}
	return c.st.out.files
}

// Pending reports whether responses are waiting to be sent.
func (c *Conn) Pending() bool { return c.st != nil && c.st.out.pending() }

// Flush sends queued output to s until all is sent, s would block
// (ErrWouldBlock), or s fails.
func (c *Conn) Flush(s Sink, now time.Time) error {
	if c.st == nil {
		return nil
	}
	if f, ok := s.(Finisher); ok {
		f.SetFinal(c.closing)
	}
	ck, cork := s.(Corker)
	cork = cork && c.st.out.files >= CorkAbove
	if cork {
		ck.Cork()
	}
	err := c.st.out.flush(s)
	c.lastActive = now.UnixNano()
	if err == nil {
		if ck != nil {
			ck.Uncork() // a no-op unless corked, now or by an earlier Flush
		}
		c.releaseState()
	}
	return err
}

// Done reports whether the connection should now be closed: it has
// answered its last request, or it is draining and Drainable.
func (c *Conn) Done() bool {
	if c.Pending() || c.offloaded {
		return false
	}
	return c.closing || (c.draining.Load() && c.Drainable())
}

// Idle reports whether the connection is between requests.
func (c *Conn) Idle() bool {
	return !c.Pending() && !c.offloaded && c.r == c.w && c.discard == 0
}

// Drainable reports whether a graceful shutdown may close the connection
// now: it is idle after answering at least one request. A connection that
// has not sent its first request yet is given until its header timeout to
// do so (and is answered with Connection: close), because its client
// cannot tell a close from a failure; a client whose kept-alive connection
// closes between requests may safely retry (RFC 9112 §9.3.1).
func (c *Conn) Drainable() bool { return c.Idle() && c.answered.Load() }

// Fresh reports whether no response has been queued yet. Safe to call from
// any goroutine.
func (c *Conn) Fresh() bool { return !c.answered.Load() }

// Deadline is when the connection must be dropped if nothing progresses:
// the end of its lingering close, if one is under way; WriteTimeout after
// the last write while output is pending; ReadHeaderTimeout after a
// request's first byte while it is incomplete (or after the connection
// opened, for its first request); IdleTimeout after the last activity
// otherwise.
func (c *Conn) Deadline() time.Time {
	var t int64
	switch {
	case c.lingerUntil != 0:
		t = c.lingerUntil
	case c.Pending():
		t = c.lastActive + int64(c.cfg.WriteTimeout)
	case c.r < c.w || c.discard > 0:
		t = c.reqStart + int64(c.cfg.ReadHeaderTimeout)
	case !c.answered.Load():
		t = c.opened + int64(c.cfg.ReadHeaderTimeout)
	default:
		t = c.lastActive + int64(c.cfg.IdleTimeout)
	}
	return time.Unix(0, t)
}

// Drain asks the connection to finish the response in progress and then
// close. Safe to call from any goroutine.
func (c *Conn) Drain() { c.draining.Store(true) }

// Refuse answers 503 and closes: the engine is at MaxConns and sheds the
// connection instead of leaving the client waiting.
func (c *Conn) Refuse(now time.Time) {
	c.fail(503, now)
}

// Release frees the connection's buffers and any body sources still queued.
func (c *Conn) Release() {
	if c.st != nil {
		c.st.out.reset()
		if !c.offloaded {
			c.releaseState()
		}
	}
	c.r, c.w = 0, 0
	c.releaseInput()
}
