// Package h1conn is the HTTP/1 connection state machine that every engine
// drives: bytes in, requests parsed and answered through the Handler,
// responses queued and flushed to a Sink, with every timeout, limit and
// way of closing decided here (see Conn). An engine only moves bytes and
// waits for sockets; ServeStream is the whole loop for the blocking ones.
package h1conn

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Conn is the protocol state of one connection, shared by every engine:
// bytes go in through ReadSpace and Received, Process parses and answers
// every complete request (pipelined ones in order), and Flush sends the
// queued responses to a Sink. An engine only moves bytes and waits; every
// policy (timeouts, limits, when to close and how) is decided here.
//
// The state is explicit (see phase and ending, and the one place that
// changes each: toPhase and toEnd). Two small state variables instead of
// one, because HTTP/1.1 pipelining overlaps them: a connection may be
// writing one response while it reads the next request's head.
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
	tls    bool // the connection is TLS: requests say so (Request.TLS)

	in      *[]byte // read buffer, taken from a pool only while needed
	r, w    int     // unread bytes are (*in)[r:w]
	scanned int     // bytes of the unread head already searched for its end
	body    body    // the request body being dropped (phaseBody)

	st *state // per-request state, taken from a pool only while needed

	stream Stream // the blocking connection ServeStream serves; nil for an event loop (whose bodies go to ServeBody)

	phase  phase  // what the input side is doing
	ending ending // whether and how the connection is ending

	async    bool     // hand disk work to a worker (see SetAsync)
	bodies   bool     // hand requests whose handler takes the body to the engine (see SetBodyOffload)
	headCork bool     // cork only a Flush that starts with a head (see SetHeadCork)
	notify   Notifier // an event loop's: never wait for a streamed body (see SetNotifier)
	stalled  bool     // Process stopped at maxBacklog with requests still buffered
	unread   bool     // the client may still be sending input that will not be read

	opened      int64 // UnixNano of each event below
	reqStart    int64 // first byte of the request head or body being received
	lastActive  int64 // last read, or last byte the client accepted
	progress    int64 // the write clock: output became pending, or the client last accepted a byte
	lingerUntil int64 // end of the lingering close (endLingering)
	sendq       int   // the socket's send queue when output last blocked (-1: unknown)

	draining atomic.Bool
	answered atomic.Bool // at least one response was queued

	m    Meter // counters, or nil (see Config.Meters)
	idle bool  // what m was last told (see noteIdle)
}

// phase is what a connection's input side is doing.
type phase uint8

const (
	phaseIdle    phase = iota // between requests (or before the first): no request input pending
	phaseHead                 // receiving a request head, since reqStart
	phaseBody                 // reading and dropping a request body, since reqStart
	phaseHandler              // a request waits for its handler on a worker (offloaded), or for ServeBody
)

// ending is whether and how a connection is ending.
type ending uint8

const (
	endOpen      ending = iota // serving requests
	endClosing                 // answering no more: close once the output drains
	endLingering               // output sent and sending side shut down; dropping input until lingerUntil
	endClosed                  // released
)

// body is what is left of a request body to drop.
type body struct {
	left    int64             // bytes left of a Content-Length body
	chunked bool              // chunked framing, read by dec
	dec     http1.ChunkedBody // its decoder
}

func (b *body) active() bool { return b.left > 0 || b.chunked }

// state is what a connection needs only while a request is in flight.
type state struct {
	req   http1.Request
	resp  http1.Response
	clock http1.Clock
	out   outQueue
	start int64     // UnixNano of the first byte of the request being answered (0: unknown), for its record's Duration
	keep  bool      // the request being answered leaves the connection open
	recs  []pending // records of the responses queued, not yet logged from rhead on (see record.go)
	rhead int

	bh    http1.BodyHandler // the offloaded request's handler takes its body (see ServeBody)
	limit int64             // the most body bytes bh may read
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

// New returns the state of a connection from remote, opened at now.
func New(cfg *Config, remote netip.AddrPort, now time.Time) *Conn {
	return NewOnLoop(cfg, remote, now, -1)
}

// NewOnLoop is New for a connection of event loop loop (0, 1, …), which
// counts it and its requests on that loop's own counters (see
// Config.Meters).
func NewOnLoop(cfg *Config, remote netip.AddrPort, now time.Time, loop int) *Conn {
	n := now.UnixNano()
	if cfg.Open != nil {
		cfg.Open.Add(1)
	}
	c := &Conn{cfg: cfg, remote: remote, lastActive: n, opened: n, progress: n, sendq: -1}
	if cfg.Meters != nil {
		c.m = cfg.Meters(loop)
		c.m.Opened()
		c.noteIdle() // a fresh connection waits for its first request
	}
	return c
}

// noteIdle tells the meter when the connection starts or stops waiting
// between requests (Idle, and not closing).
func (c *Conn) noteIdle() {
	if c.m == nil {
		return
	}
	if idle := c.ending == endOpen && c.Idle(); idle != c.idle {
		c.idle = idle
		c.m.Idle(idle)
	}
}

// SetTLS marks c as a connection over TLS, before it serves a request.
func (c *Conn) SetTLS() { c.tls = true }

// toPhase moves the input side to p at t (UnixNano). The clocks that the
// phases run on start here and nowhere else.
func (c *Conn) toPhase(p phase, t int64) {
	if (p == phaseHead && c.phase != phaseHead) || (p == phaseBody && c.phase != phaseBody) {
		c.reqStart = t
	}
	c.phase = p
}

// settle picks the input phase once a request has been handed to its
// handler: its body, the next pipelined request, or nothing.
func (c *Conn) settle(t int64) {
	switch {
	case c.body.active():
		c.toPhase(phaseBody, t)
	case c.r < c.w:
		c.phase = phaseIdle // restart the head clock for the next request
		c.toPhase(phaseHead, t)
	default:
		c.toPhase(phaseIdle, t)
	}
}

// toEnd moves the connection toward its end. The ending only advances.
func (c *Conn) toEnd(e ending, t int64) {
	if e <= c.ending {
		return
	}
	c.ending = e
	switch e {
	case endLingering:
		c.lingerUntil = t + int64(min(LingerTime, c.cfg.IdleTimeout))
		c.r, c.w, c.scanned, c.body = 0, 0, 0, body{}
		c.phase = phaseIdle
	case endClosed:
		c.phase = phaseIdle
		if c.cfg.Open != nil {
			c.cfg.Open.Add(-1) // once: the ending only advances
		}
	}
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
	if st == nil || st.out.pending() || c.phase == phaseHandler {
		return
	}
	c.st = nil
	st.out.reset()
	if cap(st.out.buf) > maxPooledOut {
		st.out.buf = nil
	}
	st.req.Reset()
	st.resp.Reset()
	st.keep = false
	st.bh = nil
	if cap(st.recs) > maxPooledRecs {
		st.recs = nil
	}
	for i := range st.recs {
		if p := &st.recs[i]; cap(p.buf) > maxPooledRecBuf {
			p.buf, p.hdrs = nil, nil // a record of a large head
		}
	}
	st.recs, st.rhead = st.recs[:0], 0
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
// While lingering it throws them away. Reading never restarts the write
// clock: a client that sends but does not read is still dropped.
func (c *Conn) Received(n int, now time.Time) {
	if n <= 0 {
		return
	}
	if c.ending == endLingering {
		c.r, c.w = 0, 0
		return
	}
	t := now.UnixNano()
	if c.phase == phaseIdle {
		c.toPhase(phaseHead, t)
	}
	c.w += n
	c.lastActive = t
	c.noteIdle()
}

// Process answers every complete request in the input buffer, queueing the
// responses, until the input runs out, the output backlog is full, a
// request whose handler takes its body after 100 Continue waits for the
// answers queued before it to be sent (see Stalled), or the connection is
// to close.
func (c *Conn) Process(now time.Time) {
	if c.phase == phaseHandler {
		return
	}
	t := now.UnixNano()
	held := false // a request awaiting 100 Continue waits for the output before it
	for c.ending == endOpen && c.phase != phaseHandler && c.queued() < maxBacklog {
		if c.phase == phaseBody {
			done, status := c.dropBody(t)
			if status != 0 {
				// The request was answered already: close, dropping
				// (lingering over) whatever else the client sends.
				c.unread = true
				c.toEnd(endClosing, t)
			}
			if !done {
				break
			}
		}
		if c.r == c.w {
			break
		}
		buf := (*c.in)[c.r:c.w]
		// RFC 9112 §2.2: empty lines before a request line are ignored.
		// They keep the head's clock running. A request line cannot
		// begin with CR or LF, so what was scanned before them is moot.
		if k := skipEmptyLines(buf); k > 0 {
			c.r += k
			c.scanned = 0
			if buf = buf[k:]; len(buf) == 0 {
				break
			}
		}
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
		if err == nil && c.Pending() && expectsContinue(&st.req) {
			if _, bh := c.bodyLimit(&st.req); bh != nil {
				// Its handler reads the body straight from the
				// socket, and first sends 100 Continue there:
				// the answers before it go out first (parsed
				// again then; see Stalled). Without the
				// expectation the body is read at once, the
				// answers waiting: a client may be writing it
				// before it reads them.
				held = true
				break
			}
		}
		c.r += n
		if err != nil {
			c.fail(http1.StatusOf(err), now)
			break
		}
		c.serve(now)
	}
	c.stalled = c.ending == endOpen && c.phase != phaseHandler && (c.queued() >= maxBacklog || held) && c.r < c.w
	if c.phase != phaseHandler {
		c.releaseInput() // the request views the buffer until it is answered
		c.releaseState()
	}
	c.noteIdle()
}

// skipEmptyLines returns how many bytes of empty lines (CRLF or LF) begin b.
func skipEmptyLines(b []byte) int {
	k := 0
	for k < len(b) {
		switch {
		case b[k] == '\n':
			k++
		case b[k] == '\r' && k+1 < len(b) && b[k+1] == '\n':
			k += 2
		default:
			return k
		}
	}
	return k
}

// dropBody drops the request body's bytes from the input. It reports
// whether the body has ended, so that the next request may be parsed, or,
// with a status (400, 413), that the body is malformed or larger than
// MaxBodyBytes: where the next request would start cannot then be trusted.
func (c *Conn) dropBody(t int64) (done bool, status int) {
	if c.r == c.w {
		return false, 0 // nothing to drop (and perhaps no buffer)
	}
	avail := (*c.in)[c.r:c.w]
	b := &c.body
	if !b.chunked {
		n := min(int64(len(avail)), b.left)
		c.r += int(n)
		if b.left -= n; b.left > 0 {
			return false, 0
		}
	} else {
		n, err := b.dec.Consume(avail, c.cfg.Limits.MaxHeadBytes)
		c.r += n
		switch {
		case err != nil:
			return false, http1.StatusOf(err)
		case b.dec.Announced() > c.cfg.MaxBodyBytes:
			return false, 413
		case !b.dec.Done():
			return false, 0
		}
	}
	c.body = body{}
	c.settle(t)
	return true, 0
}

// queued is the output backlog; a streamed body counts as full, so that
// nothing is parsed behind it until it is sent.
func (c *Conn) queued() int64 {
	switch {
	case c.st == nil:
		return 0
	case c.st.out.streams > 0:
		return maxBacklog
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
// connection whose handler cannot answer from memory, hands it to a
// worker (phaseHandler).
func (c *Conn) serve(now time.Time) {
	st := c.st
	req, resp := &st.req, &st.resp
	resp.Reset()
	st.start = c.reqStart // before settle restarts the clock for a body or the next request
	req.Remote, req.TLS = c.remote, c.tls
	st.keep = req.KeepAlive && !c.draining.Load()
	t := now.UnixNano()
	limit, bh := c.bodyLimit(req)
	switch {
	case req.ContentLength > limit:
		c.errorPage(resp, 413)
		st.keep, c.unread = false, true
		c.settle(t)
		c.finish(now)
		return
	case bh != nil && c.stream == nil:
		// An event loop: the engine reads the body off the loop
		// (ServeBody), then resumes.
		st.bh, st.limit = bh, limit
		c.toPhase(phaseHandler, t)
		return
	case bh != nil:
		c.readBody(bh, limit, c.stream)
		now = time.Now()
		c.settle(now.UnixNano())
		c.finish(now)
		return
	case req.HasBody() && len(req.Expect) > 0:
		// The client waits for 100-continue before sending the body
		// (or for a while, then sends it anyway); a final answer and a
		// close is simplest.
		st.keep, c.unread = false, true
	case req.Chunked:
		// The answer depends on the head alone, as for a Content-Length
		// body, never on how much of the body has arrived: malformed
		// framing or a body over the limit found later closes the
		// connection after the answer (where the next request would
		// start is then unknown).
		c.body = body{chunked: true}
	case req.ContentLength > 0:
		c.body = body{left: req.ContentLength}
	}
	if mh, ok := c.cfg.Handler.(http1.MemoryHandler); !ok || !mh.ServeFromMemory(req, resp) {
		if c.async {
			c.toPhase(phaseHandler, t)
			return
		}
		c.cfg.Handler.ServeHTTP1(req, resp)
	}
	c.settle(t)
	c.finish(now)
}

// bodyLimit is the most body bytes req may carry, and the handler that
// takes the body (nil when the connection reads and drops it). A blocking
// connection hands bodies to a handler itself; an event loop's only when
// its engine can read them off the loop (SetBodyOffload).
func (c *Conn) bodyLimit(req *http1.Request) (int64, http1.BodyHandler) {
	if (c.stream == nil && !c.bodies) || !req.HasBody() {
		return c.cfg.MaxBodyBytes, nil
	}
	bh, ok := c.cfg.Handler.(http1.BodyHandler)
	if !ok {
		return c.cfg.MaxBodyBytes, nil
	}
	if limit := bh.BodyLimit(req); limit > 0 {
		return limit, bh
	}
	return c.cfg.MaxBodyBytes, nil
}

// readBody runs the handler of a request whose body it takes, reading
// the body from s as it asks (see bodyReader); the caller then queues the
// answer. A body left unread, cut, malformed or over the limit closes the
// connection after the answer; so does input read past a chunked body.
// It changes neither the phase nor the ending: an event loop may look at
// them while it runs on another goroutine (see ServeBody).
func (c *Conn) readBody(bh http1.BodyHandler, limit int64, s Stream) {
	st := c.st
	req := &st.req
	if req.Chunked {
		c.body = body{chunked: true}
	} else {
		c.body = body{left: req.ContentLength}
	}
	br := &bodyReader{c: c, s: s, limit: limit, expect: expectsContinue(req)}
	req.Body = br
	bh.ServeHTTP1(req, &st.resp)
	req.Body = nil
	if br.err != nil || c.body.active() || br.br < br.bw {
		st.keep, c.unread = false, true
		if br.err != nil && !errors.Is(br.err, http1.ErrBodyTooLarge) {
			c.body = body{} // the stream failed or the framing is broken: nothing more to read
		}
	}
}

// expectsContinue reports whether req's client waits for 100 Continue
// before it sends the body.
func expectsContinue(req *http1.Request) bool {
	return req.Minor > 0 && bytes.EqualFold(req.Expect, []byte("100-continue"))
}

// SetBodyOffload makes an event loop's connection hand a request whose
// handler takes its body (http1.BodyHandler) to the engine instead of
// dropping the body: Process stops with Offloaded and TakesBody true; the
// engine calls ServeBody on another goroutine with the socket as a
// blocking Stream, then Resume on the connection's own.
func (c *Conn) SetBodyOffload(on bool) { c.bodies = on }

// TakesBody reports whether the offloaded request waits for ServeBody
// (not ServeOffloaded).
func (c *Conn) TakesBody() bool { return c.phase == phaseHandler && c.st.bh != nil }

// ServeBody runs the handler of the offloaded request that takes its
// body, reading the body from s, the connection's socket, which nothing
// else reads meanwhile. It is the blocking engines' path (readBody),
// run for an event loop on a goroutine of its own: while it runs, the
// loop may call only Offloaded, Idle, Lingering, Drain and Draining.
func (c *Conn) ServeBody(s Stream) {
	st := c.st
	bh := st.bh
	st.bh = nil
	c.readBody(bh, st.limit, s)
}

// SetAsync makes Process hand requests that need disk work to a worker:
// it stops with Offloaded true; the engine calls ServeOffloaded on another
// goroutine, then Resume on the connection's own.
func (c *Conn) SetAsync(on bool) { c.async = on }

// SetHeadCork makes Flush cork a large file body's socket only when what
// it sends first is bytes (a response head, a multipart boundary), not a
// file segment under way, and uncork after every Flush, as lighttpd does: the head leaves with the body's first bytes, the rest of the body
// goes out uncorked in the engine's per-turn chunks (with TCP_NODELAY, if
// the engine sets it). Without it the cork stays on for the whole body, as
// nginx's tcp_nopush. Measured on loopback with the epoll engine at 10 MiB
// (README, "Large bodies"), head-only corking in 256 KiB turns cost less
// CPU per response in all, server and client, under both bbr and cubic.
func (c *Conn) SetHeadCork(on bool) { c.headCork = on }

// Offloaded reports whether a request waits for ServeOffloaded.
func (c *Conn) Offloaded() bool { return c.phase == phaseHandler }

// ServeOffloaded runs the handler for the offloaded request. It may block
// on disk; it touches nothing but the request and the response plan.
func (c *Conn) ServeOffloaded() { c.cfg.Handler.ServeHTTP1(&c.st.req, &c.st.resp) }

// Resume queues the offloaded request's response and goes on processing.
func (c *Conn) Resume(now time.Time) {
	c.settle(now.UnixNano())
	c.finish(now)
	c.Process(now)
}

func (c *Conn) finish(now time.Time) {
	st := c.st
	if st.resp.Close {
		st.keep = false
	}
	c.queue(now, st.keep, st.req.Method == http1.MethodHead)
}

// fail answers a request that could not be parsed, then closes. The
// request state is reset first: nothing of an earlier pipelined request
// may be logged or answered under this one.
func (c *Conn) fail(status int, now time.Time) {
	st := c.state()
	st.req.Reset()
	st.resp.Reset()
	st.start = 0
	if c.phase == phaseHead || c.phase == phaseBody {
		st.start = c.reqStart
	}
	c.errorPage(&st.resp, status)
	c.unread = true // what follows the bad input is unknown
	c.toPhase(phaseIdle, now.UnixNano())
	c.queue(now, false, false)
}

// errorPage plans the answer with status code to a request the handler
// does not see.
func (c *Conn) errorPage(resp *http1.Response, code int) {
	if c.tls && c.cfg.AltSvc != "" {
		resp.AddHeader("Alt-Svc", c.cfg.AltSvc)
	}
	http1.ErrorPage(resp, code)
}

func (c *Conn) queue(now time.Time, keep, head bool) {
	st := c.st
	resp, out := &st.resp, &st.out
	if !out.pending() {
		c.progress = now.UnixNano() // the write clock starts with output to send
	}
	stream := resp.Stream != nil && !head && http1.BodyAllowed(resp.Status)
	if stream && st.req.Minor == 0 {
		keep = false // the close ends the body
	}
	begin := out.sent + out.queued // where this response starts: nothing is queued behind a streamed body (see queued)
	start := len(out.buf)
	out.buf = http1.AppendHead(out.buf, resp, st.req.Minor, keep, st.clock.Date(now))
	headLen := int64(len(out.buf) - start)
	out.appendOwned(start)
	if !head && http1.BodyAllowed(resp.Status) {
		switch {
		case stream:
			out.addStream(resp.Stream, resp.Closer, st.req.Minor > 0)
			resp.Closer = nil // the producer closes it
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
		c.toEnd(endClosing, now.UnixNano())
	}
	if !c.answered.Load() {
		c.answered.Store(true) // once: an atomic store per request would be waste
	}
	if c.cfg.Log != nil || c.m != nil {
		end := out.sent + out.queued
		if out.streams > 0 {
			end = -1 // known once sent
		}
		c.track(begin, headLen, end)
	}
	resp.Closer = nil
}

// Closing reports whether the connection closes after its queued output.
func (c *Conn) Closing() bool { return c.ending >= endClosing }

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
	return c.ending == endClosing && !c.draining.Load() && (c.unread || c.r < c.w || c.phase == phaseBody)
}

// StartLinger begins the lingering close at now.
func (c *Conn) StartLinger(now time.Time) {
	c.toEnd(endLingering, now.UnixNano())
	c.noteIdle()
}

// Lingering reports whether a lingering close is under way.
func (c *Conn) Lingering() bool { return c.ending == endLingering }

// Stalled reports whether buffered requests wait for the output backlog
// to drain (or, for one whose handler takes its body after 100 Continue,
// for all output queued before it to be sent): once Flush has sent it, Process has more
// to do even if no byte arrives.
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
// (ErrWouldBlock), or s fails. Bytes the client accepts restart the write
// clock (see Deadline); a blocking sink enforces the same rule itself
// while it waits (see Sink).
func (c *Conn) Flush(s Sink, now time.Time) error {
	if c.st == nil {
		return nil
	}
	if f, ok := s.(Finisher); ok {
		f.SetFinal(c.ending >= endClosing)
	}
	ck, cork := s.(Corker)
	cork = cork && c.st.out.files >= CorkAbove
	if c.headCork && !c.st.out.bytesFirst() {
		cork = false // the head has left: the body goes out uncorked
	}
	if cork {
		ck.Cork()
	}
	before := c.st.out.sent
	fileBytes, err := c.st.out.flush(s, c.notify, c.cfg.WriteTimeout)
	c.logSent()
	if c.st.out.sent != before {
		t := now.UnixNano()
		c.progress, c.lastActive = t, t
	}
	if c.m != nil && fileBytes > 0 {
		c.m.SentFile(fileBytes)
	}
	c.sendq = -1
	if err == ErrWouldBlock {
		if q, ok := s.(SendQueuer); ok {
			c.sendq = q.SendQueue()
		}
	}
	if ck != nil && (err == nil || c.headCork) {
		ck.Uncork() // a no-op unless corked, now or by an earlier Flush
	}
	if err == nil {
		c.releaseState()
	} else if errors.Is(err, errStreamCut) {
		c.cfg.ErrorLog.Debug("streamed body cut; connection closed", "remote", c.remote.String(), "err", err)
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		// sendfile found the file shorter than planned: it changed
		// while being sent, and the client gets a cut body.
		c.cfg.ErrorLog.Warn("file shrank while being sent; connection closed", "remote", c.remote.String())
	}
	c.noteIdle()
	return err
}

// Done reports whether the connection should now be closed: it has
// answered its last request, or it is draining and Drainable.
func (c *Conn) Done() bool {
	if c.Pending() || c.phase == phaseHandler {
		return false
	}
	return c.ending >= endClosing || (c.draining.Load() && c.Drainable())
}

// Idle reports whether the connection is between requests.
func (c *Conn) Idle() bool {
	return c.phase == phaseIdle && !c.Pending() && c.r == c.w
}

// Drainable reports whether a graceful shutdown may close the connection
// now: it is idle after answering at least one request, and has been for
// DrainQuiet. A connection that has not sent its first request yet is
// given until its header timeout to do so (and is answered with
// Connection: close), because its client cannot tell a close from a
// failure. One answered within DrainQuiet is likely in use, its next
// request perhaps on its way: closing it then would lose that request to
// a client that does not retry, so it is given until DrainQuiet has passed
// to send it (and is answered with Connection: close). Before closing, an
// engine must still read what has already arrived (see ServeStream).
func (c *Conn) Drainable() bool {
	return c.Idle() && c.answered.Load() && time.Now().UnixNano()-c.lastActive >= int64(DrainQuiet)
}

// DrainQuiet is how long a kept-alive connection must have been idle before
// a graceful shutdown closes it (see Drainable).
const DrainQuiet = time.Second

// Fresh reports whether no response has been queued yet. Safe to call from
// any goroutine.
func (c *Conn) Fresh() bool { return !c.answered.Load() }

// Deadline is when the connection must be dropped if nothing progresses:
// the end of its lingering close, if one is under way; WriteTimeout after
// the client last accepted a byte (or after output became pending) while
// output is pending, whatever it sends meanwhile; ReadHeaderTimeout after
// a request's first byte while its head or body is incomplete (or after
// the connection opened, for its first request); IdleTimeout after the
// last activity otherwise (DrainQuiet while draining).
func (c *Conn) Deadline() time.Time {
	var t int64
	switch {
	case c.ending == endLingering:
		t = c.lingerUntil
	case c.Pending():
		t = c.progress + int64(c.cfg.WriteTimeout)
	case c.phase == phaseHead || c.phase == phaseBody:
		t = c.reqStart + int64(c.cfg.ReadHeaderTimeout)
	case !c.answered.Load():
		t = c.opened + int64(c.cfg.ReadHeaderTimeout)
	case c.draining.Load():
		t = c.lastActive + int64(min(DrainQuiet, c.cfg.IdleTimeout))
	default:
		t = c.lastActive + int64(c.cfg.IdleTimeout)
	}
	return time.Unix(0, t)
}

// Expired reports whether the connection is past its Deadline and must be
// dropped. Output that waits for a full socket is a special case: the
// kernel goes on handing the socket's queued bytes to the client without
// telling the engine until a good part of the queue is free, so if s (a
// SendQueuer) shows that queue shrank since output blocked, the client is
// still accepting bytes: the write clock restarts instead. A client is so
// dropped between one and two write timeouts after it last took a byte.
func (c *Conn) Expired(s Sink, now time.Time) bool {
	if now.Before(c.Deadline()) {
		return false
	}
	if c.ending == endLingering || !c.Pending() || c.sendq < 0 {
		return true
	}
	if q, ok := s.(SendQueuer); ok {
		if cur := q.SendQueue(); cur >= 0 && cur < c.sendq {
			c.sendq = cur
			c.progress = now.UnixNano()
			return false
		}
	}
	return true
}

// Drain asks the connection to finish the response in progress and then
// close. Safe to call from any goroutine.
func (c *Conn) Drain() { c.draining.Store(true) }

// Draining reports whether Drain was called. Safe to call from any
// goroutine.
func (c *Conn) Draining() bool { return c.draining.Load() }

// Refuse answers 503 and closes: the engine is at MaxConns and sheds the
// connection instead of leaving the client waiting.
func (c *Conn) Refuse(now time.Time) {
	c.fail(503, now)
}

// Abandon releases a connection whose offloaded request's handler has
// returned after the engine gave up on it (a shutdown timeout passed):
// what the response plan holds (an open file, a cache reference) is
// closed, then everything else, as Release does.
func (c *Conn) Abandon() {
	if c.phase == phaseHandler && c.st != nil {
		if cl := c.st.resp.Closer; cl != nil {
			c.st.resp.Closer = nil
			cl.Close()
		}
		c.phase = phaseIdle
	}
	c.Release()
}

// Release frees the connection's buffers and any body sources still queued.
func (c *Conn) Release() {
	offloaded := c.phase == phaseHandler
	if c.st != nil {
		c.logAborted()
		c.st.out.reset()
		if !offloaded {
			c.releaseState()
		}
	}
	c.r, c.w = 0, 0
	c.releaseInput()
	if !offloaded {
		if c.m != nil && c.ending != endClosed {
			if c.idle {
				c.idle = false
				c.m.Idle(false)
			}
			c.m.Closed()
		}
		c.toEnd(endClosed, 0)
	}
}
