// Package loadgen is the load generator behind `weft bench`: HTTP/1.1
// clients over real sockets in four modes (keep-alive, a connection per
// request, pipelining, and an open loop at a fixed arrival rate corrected
// for coordinated omission), with latencies in an HDR histogram and errors
// counted by kind. Each connection is one goroutine on Go's netpoller, so
// the client uses every core GOMAXPROCS gives it (see Pin).
//
// A run has a fixed window: connections are opened first, then warmed up
// (see Config.Warmup), then the clock starts, and a response that
// completes after the window's end is not counted (neither as a success
// nor as an error).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Mode is how a connection issues its requests.
type Mode int

const (
	KeepAlive      Mode = iota // one request in flight per connection, reused
	ConnPerRequest             // a new connection per request ("Connection: close")
	Pipeline                   // Depth requests written at once, then their Depth responses
)

// Config describes one run.
type Config struct {
	Addr     string        // host:port to dial
	Host     string        // Host header (Addr when empty)
	Paths    []string      // request targets, taken in turn (from a different start per connection)
	Conns    int           // concurrent loading connections
	Duration time.Duration // length of the measured window
	Mode     Mode
	Depth    int     // requests in flight per connection in Pipeline mode
	Rate     float64 // open loop: total requests per second (0: closed loop)
	Idle     int     // connections opened before the run that send nothing and are held to its end
	// DialTimeout bounds each connection's dial before the window (5 s when 0).
	DialTimeout time.Duration
	// Warmup is the longest load before the window, not measured: the
	// window opens as soon as every connection has had a response, or
	// when Warmup has passed (the open loop sends nothing before it).
	Warmup time.Duration
	// WindowStart and WindowEnd, when set, are called as the window opens
	// (every connection dialed) and as it closes (idle connections still
	// open): the moments to read the server's CPU and memory.
	WindowStart, WindowEnd func()
}

// ErrKind is a class of failed request.
type ErrKind int

const (
	ErrConnect   ErrKind = iota // dial failed or was refused
	ErrReset                    // connection reset by the server
	ErrClosed                   // closed by the server before the response was complete
	ErrTimeout                  // a read or write deadline passed inside the window
	ErrStatus4xx                // a 4xx response (read whole, counted as an error)
	ErrStatus5xx                // a 5xx response or other non-2xx/3xx status
	ErrProtocol                 // a response that is not valid HTTP/1.1 as far as the client reads it
	ErrOther
	nErrKinds
)

var errKindNames = [nErrKinds]string{"connect", "reset", "closed", "timeout", "http 4xx", "http 5xx", "protocol", "other"}

func (k ErrKind) String() string { return errKindNames[k] }

// Result is what a run measured.
type Result struct {
	Requests  int64            // responses completed inside the window with a 2xx or 3xx status
	Bytes     int64            // body bytes of those responses
	Errors    map[string]int64 // failed requests by kind (ErrKind.String)
	Served    int              // loading connections that completed at least one request
	IdleHeld  int              // idle connections still open at the window's end
	Elapsed   time.Duration    // the window
	ClientCPU float64          // CPU seconds (user+system) this process used in the window
	Hist      *hdrhistogram.Histogram
}

// ErrorCount is the sum of Errors.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// RPS is completed requests per second.
func (r *Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Quantile returns the latency below which a fraction q (0..1) of the
// completed requests fell, to the histogram's three significant digits.
func (r *Result) Quantile(q float64) time.Duration {
	return time.Duration(r.Hist.ValueAtPercentile(q*100)) * time.Microsecond
}

// Max is the largest latency recorded.
func (r *Result) Max() time.Duration { return time.Duration(r.Hist.Max()) * time.Microsecond }

// newHist tracks 1 µs to 1 hour at three significant digits.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
}

// shard is a histogram shared by some connections; each connection batches
// its samples and takes the lock once per batch.
type shard struct {
	mu   sync.Mutex
	hist *hdrhistogram.Histogram
}

// window is the measured part of a run. It opens when every loading
// connection has had a response (the server has accepted them all and
// warmed up) or when the warm-up's limit passes, whichever comes first.
type window struct {
	start, end atomic.Int64 // UnixNano; 0 until the window opens
	opened     chan struct{}
	ready      atomic.Int64 // connections that have had a first response
	allReady   chan struct{}
	conns      int64
}

// before reports whether t is before the window (or the window has not
// opened yet); after, whether t is at or past its end.
func (w *window) before(t time.Time) bool {
	s := w.start.Load()
	return s == 0 || t.UnixNano() < s
}

func (w *window) after(t time.Time) bool {
	e := w.end.Load()
	return e != 0 && t.UnixNano() >= e
}

// conn is one loading connection's state; only its goroutine touches it
// until the run ends (cur, under mu, excepted).
type conn struct {
	cfg      *Config
	req      []byte // one request per path, concatenated
	offsets  []int  // offsets[i]..offsets[i+1] is request i
	next     int
	w        *window
	limit    time.Time // the latest the window can end: deadline for every read
	ready    bool      // a first response (or error) came
	mu       sync.Mutex
	cur      net.Conn // the connection in use, for cutting it at the window's end
	sh       *shard
	batch    [128]int64
	nb       int
	requests int64
	bytes    int64
	errs     [nErrKinds]int64
	r        reader
}

// Run loads cfg.Addr for cfg.Duration (or until ctx ends).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		cfg.Host = cfg.Addr
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Idle connections first, then the loading ones, then the window.
	idle := openIdle(ctx, &cfg)
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	shards := make([]shard, max(1, min(cfg.Conns, 2*runtime.GOMAXPROCS(0))))
	for i := range shards {
		shards[i].hist = newHist()
	}
	reqs, offsets := requests(&cfg)
	conns := make([]*conn, cfg.Conns)
	nets := make([]net.Conn, cfg.Conns)
	var wg sync.WaitGroup
	for i := range conns {
		c := &conn{cfg: &cfg, req: reqs, offsets: offsets, next: i % (len(offsets) - 1), sh: &shards[i%len(shards)]}
		c.r.buf = make([]byte, 8<<10)
		conns[i] = c
		if cfg.Mode != ConnPerRequest {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc, err := (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext(ctx, "tcp", cfg.Addr)
				if err != nil {
					c.errs[ErrConnect]++
					return
				}
				nets[i] = nc
			}()
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		closeAll(nets)
		return nil, ctx.Err()
	}

	w := &window{opened: make(chan struct{}), allReady: make(chan struct{}), conns: int64(cfg.Conns)}
	begin := time.Now()
	// Reads are cut at the window's end (cut); the deadline is only a
	// backstop, a second after the latest end.
	limit := begin.Add(cfg.Warmup + cfg.Duration + time.Second)
	for i, c := range conns {
		c.w, c.limit, c.cur = w, limit, nets[i]
	}
	cut := func() {
		for _, c := range conns {
			c.mu.Lock()
			if c.cur != nil {
				c.cur.SetDeadline(time.Now())
			}
			c.mu.Unlock()
		}
	}
	var cpu0 float64
	windowDone := make(chan struct{})
	go func() {
		defer close(windowDone)
		if cfg.Warmup > 0 {
			ready := w.allReady
			if cfg.Rate > 0 {
				ready = nil // the open loop sends nothing before the window
			}
			t := time.NewTimer(cfg.Warmup)
			select {
			case <-ready:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		if cfg.WindowStart != nil {
			cfg.WindowStart()
		}
		cpu0 = processCPU()
		start := time.Now()
		w.end.Store(start.Add(cfg.Duration).UnixNano())
		w.start.Store(start.UnixNano())
		close(w.opened)
		sleepUntil(ctx, start.Add(cfg.Duration))
		cut() // a response still on its way is not counted
	}()
	stop := context.AfterFunc(ctx, cut) // interrupted: unblock every read now
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx, nets[i], i)
		}()
	}
	wg.Wait()
	<-windowDone
	elapsed := min(time.Since(time.Unix(0, w.start.Load())), cfg.Duration)
	cpu1 := processCPU()
	if cfg.WindowEnd != nil {
		cfg.WindowEnd()
	}
	stop()
	closeAll(nets)
	res := &Result{Elapsed: elapsed, ClientCPU: cpu1 - cpu0, Hist: newHist(), Errors: map[string]int64{}}
	for i := range shards {
		res.Hist.Merge(shards[i].hist)
	}
	for _, c := range conns {
		res.Requests += c.requests
		res.Bytes += c.bytes
		if c.requests > 0 {
			res.Served++
		}
		for k, n := range c.errs {
			if n > 0 {
				res.Errors[ErrKind(k).String()] += n
			}
		}
	}
	for _, c := range idle {
		if c.(*idleConn).open() {
			res.IdleHeld++
		}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

func (cfg *Config) check() error {
	switch {
	case cfg.Conns <= 0:
		return errors.New("weft: bench: the number of connections must be positive")
	case cfg.Duration <= 0:
		return errors.New("weft: bench: the duration must be positive")
	case cfg.Mode == Pipeline && cfg.Depth <= 0:
		return errors.New("weft: bench: pipelining needs a depth of at least 1")
	case cfg.Mode == Pipeline && cfg.Rate > 0:
		return errors.New("weft: bench: an open-loop rate and pipelining do not combine")
	case cfg.Rate < 0 || cfg.Idle < 0 || cfg.Warmup < 0:
		return errors.New("weft: bench: the rate, the warm-up and the idle connections cannot be negative")
	case len(cfg.Paths) == 0:
		return errors.New("weft: bench: no request path")
	}
	return nil
}

// requests renders one request per path, back to back.
func requests(cfg *Config) ([]byte, []int) {
	var b []byte
	offsets := []int{0}
	for _, p := range cfg.Paths {
		b = append(b, "GET "+p+" HTTP/1.1\r\nHost: "+cfg.Host+"\r\nUser-Agent: weft-bench\r\n"...)
		if cfg.Mode == ConnPerRequest {
			b = append(b, "Connection: close\r\n"...)
		}
		b = append(b, "\r\n"...)
		offsets = append(offsets, len(b))
	}
	return b, offsets
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// nextReq returns the connection's next request and advances.
func (c *conn) nextReq() []byte {
	r := c.req[c.offsets[c.next]:c.offsets[c.next+1]]
	c.next++
	if c.next == len(c.offsets)-1 {
		c.next = 0
	}
	return r
}

// record adds one completed request's latency.
func (c *conn) record(lat time.Duration, body int64) {
	c.requests++
	c.bytes += body
	c.batch[c.nb] = max(1, int64(lat/time.Microsecond))
	c.nb++
	if c.nb == len(c.batch) {
		c.flush()
	}
}

func (c *conn) flush() {
	c.sh.mu.Lock()
	for _, v := range c.batch[:c.nb] {
		c.sh.hist.RecordValue(v)
	}
	c.sh.mu.Unlock()
	c.nb = 0
}

// fail counts err unless it comes from the window's end or the run's
// interruption (a request cut off by either is not the server's failure),
// or from the warm-up.
func (c *conn) fail(ctx context.Context, err error) {
	c.markReady()
	if now := time.Now(); ctx.Err() != nil || c.w.after(now) || c.w.before(now) {
		return
	}
	c.errs[classify(err)]++
}

// markReady counts the connection's first response or error towards
// opening the window.
func (c *conn) markReady() {
	if !c.ready {
		c.ready = true
		if c.w.ready.Add(1) == c.w.conns {
			close(c.w.allReady)
		}
	}
}

// setCur records the connection in use, so that the window's end can cut
// it; one dialed as the window ends is cut at once.
func (c *conn) setCur(nc net.Conn) {
	c.mu.Lock()
	c.cur = nc
	if nc != nil && c.w.after(time.Now()) {
		nc.SetDeadline(time.Now())
	}
	c.mu.Unlock()
}

func (c *conn) run(ctx context.Context, nc net.Conn, i int) {
	defer c.flush()
	var interval time.Duration
	var intended time.Time
	if c.cfg.Rate > 0 {
		// Each connection carries Rate/Conns requests per second, their
		// phases spread evenly over one interval from the window's start.
		select {
		case <-c.w.opened:
		case <-ctx.Done():
			return
		}
		interval = time.Duration(float64(time.Second) * float64(c.cfg.Conns) / c.cfg.Rate)
		intended = time.Unix(0, c.w.start.Load()).Add(interval * time.Duration(i) / time.Duration(c.cfg.Conns))
	}
	for ctx.Err() == nil {
		if nc == nil {
			if c.w.after(time.Now()) {
				return
			}
			var err error
			nc, err = c.dial(ctx)
			if err != nil {
				c.fail(ctx, err)
				if c.cfg.Mode != ConnPerRequest {
					// Do not spin on a refusing server.
					sleepUntil(ctx, time.Now().Add(10*time.Millisecond))
				}
				continue
			}
			c.setCur(nc)
		}
		nc.SetDeadline(c.limit)
		c.r.reset(nc)
		var keep bool
		if c.cfg.Mode == Pipeline {
			keep = c.pipeline(ctx, nc)
		} else {
			keep = c.sequential(ctx, nc, interval, &intended)
		}
		c.setCur(nil)
		nc.Close()
		nc = nil
		if !keep {
			return
		}
	}
}

func (c *conn) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Deadline: c.limit}
	return d.DialContext(ctx, "tcp", c.cfg.Addr)
}

// sequential sends one request at a time on nc until the window ends or
// the connection must be replaced; it returns false when the run is over.
// In the open loop, each request has an intended start (*intended,
// advanced by interval) and its latency is counted from there, so a server
// that stalls is charged for the requests it kept waiting.
func (c *conn) sequential(ctx context.Context, nc net.Conn, interval time.Duration, intended *time.Time) bool {
	for {
		if interval > 0 {
			if c.w.after(*intended) {
				return false
			}
			if !sleepUntil(ctx, *intended) {
				return false
			}
		}
		t0 := time.Now()
		if c.w.after(t0) || ctx.Err() != nil {
			return false
		}
		if interval > 0 {
			t0 = *intended
			*intended = intended.Add(interval)
		}
		if _, err := nc.Write(c.nextReq()); err != nil {
			c.fail(ctx, err)
			return ctx.Err() == nil
		}
		keep, over := c.receive(ctx, t0)
		if over {
			return false
		}
		if !keep || c.cfg.Mode == ConnPerRequest {
			return true
		}
	}
}

// pipeline writes Depth requests at once and reads their responses, each
// one's latency counted from the batch's write.
func (c *conn) pipeline(ctx context.Context, nc net.Conn) bool {
	batch := make([]byte, 0, c.cfg.Depth*(c.offsets[1]+64))
	for {
		batch = batch[:0]
		for range c.cfg.Depth {
			batch = append(batch, c.nextReq()...)
		}
		t0 := time.Now()
		if c.w.after(t0) || ctx.Err() != nil {
			return false
		}
		if _, err := nc.Write(batch); err != nil {
			c.fail(ctx, err)
			return ctx.Err() == nil
		}
		for range c.cfg.Depth {
			keep, over := c.receive(ctx, t0)
			if over {
				return false
			}
			if !keep {
				// The rest of the batch is lost with the connection.
				return true
			}
		}
	}
}

// receive reads the response to a request started at t0 and counts it.
// keep is whether the connection can carry another request; over is
// whether the window has ended (a response completing after it is not
// counted) or the run was interrupted.
func (c *conn) receive(ctx context.Context, t0 time.Time) (keep, over bool) {
	resp, err := c.r.response()
	now := time.Now()
	if c.w.after(now) || ctx.Err() != nil {
		return false, true
	}
	if err != nil {
		c.fail(ctx, err)
		return false, false
	}
	c.markReady()
	if c.w.before(now) {
		return resp.keep, false // warm-up
	}
	if resp.status >= 400 {
		c.errs[statusKind(resp.status)]++
	} else {
		c.record(now.Sub(t0), resp.body)
	}
	return resp.keep, false
}

// sleepUntil waits for t or ctx; false when ctx ended.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func statusKind(status int) ErrKind {
	if status < 500 {
		return ErrStatus4xx
	}
	return ErrStatus5xx
}

// errProtocol marks a response the reader could not parse.
var errProtocol = errors.New("weft: bench: malformed response")

func classify(err error) ErrKind {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, errProtocol):
		return ErrProtocol
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return ErrClosed
	case errors.Is(err, syscall.ECONNRESET):
		return ErrReset
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.As(err, &oe) && oe.Op == "dial", errors.Is(err, syscall.ECONNREFUSED):
		return ErrConnect
	}
	return ErrOther
}

// idleConn is a connection that sends nothing; a goroutine waits on its
// read to learn whether the server closes it.
type idleConn struct {
	net.Conn
	mu     sync.Mutex
	closed bool
}

func (c *idleConn) open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed
}

func openIdle(ctx context.Context, cfg *Config) []net.Conn {
	var (
		mu  sync.Mutex
		out []net.Conn
		wg  sync.WaitGroup
		sem = make(chan struct{}, 256) // do not flood the accept queue
	)
	for range cfg.Idle {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			nc, err := (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext(ctx, "tcp", cfg.Addr)
			if err != nil {
				return
			}
			ic := &idleConn{Conn: nc}
			mu.Lock()
			out = append(out, ic)
			mu.Unlock()
			go func() {
				var b [1]byte
				ic.Read(b[:])
				ic.mu.Lock()
				ic.closed = true
				ic.mu.Unlock()
			}()
		}()
	}
	wg.Wait()
	return out
}

// String is a one-line summary.
func (r *Result) String() string {
	return fmt.Sprintf("%d requests in %v (%.0f/s), p50 %v, p99 %v, max %v, errors %v",
		r.Requests, r.Elapsed, r.RPS(), r.Quantile(0.5), r.Quantile(0.99), r.Max(), r.Errors)
}
