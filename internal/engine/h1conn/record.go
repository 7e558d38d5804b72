package h1conn

import (
	"net/netip"
	"slices"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Records (access log and metrics) are made when a response is complete,
// its last byte handed to the kernel, or aborted, so that they tell the
// bytes actually sent and the whole duration, as nginx's $body_bytes_sent
// and $request_time do. A response is placed in the connection's output
// by offsets of outQueue.sent, which counts every byte the sink took,
// partial writes and sendfile included: the response starts at begin and
// ends at end, and what of it was sent is whatever of that span sent has
// passed when it completes or is aborted.
//
// The request's bytes a record shows are copied when the response is
// queued: the input buffer they are read from is reused (for pipelined
// requests, or by another connection once this one is idle). The copies
// go to buffers kept with the pooled request state, so a connection in
// its steady state allocates nothing for them.

// pending is the record of a response queued and not yet complete.
type pending struct {
	rec   http1.Record
	start int64 // UnixNano of the request's first byte (0: unknown)
	begin int64 // the response's first byte, as an offset of outQueue.sent
	head  int64 // bytes of its head
	end   int64 // just past its last byte; -1 for a streamed body, which is complete once the queue is empty
	frame int64 // outQueue.framing at begin
	buf   []byte
	hdrs  []http1.Header
}

// maxPooledRecs and maxPooledRecBuf bound the records, and the copies
// each holds, kept when state goes back to the pool.
const (
	maxPooledRecs   = 16
	maxPooledRecBuf = 4 << 10
)

// track queues the record of the response just queued (see queue), which
// spans [begin, end) of the output with a head of head bytes.
func (c *Conn) track(begin, head, end int64) {
	st := c.st
	req, resp := &st.req, &st.resp
	if st.rhead == len(st.recs) {
		st.recs, st.rhead = st.recs[:0], 0
	}
	if len(st.recs) < cap(st.recs) {
		st.recs = st.recs[:len(st.recs)+1]
	} else {
		st.recs = append(st.recs, pending{})
	}
	p := &st.recs[len(st.recs)-1]
	remote := c.remote
	if resp.Client.IsValid() {
		remote = netip.AddrPortFrom(resp.Client, 0) // from a trusted proxy's header
	}
	headers := c.cfg.logHeaders
	n := len(req.MethodName) + len(req.Target) + len(req.Host) + len(req.Referer) + len(req.UserAgent)
	if headers {
		for i := range req.Headers {
			n += len(req.Headers[i].Name) + len(req.Headers[i].Value)
		}
	}
	// Grown once, so that the views taken below stay valid.
	b := slices.Grow(p.buf[:0], n)
	p.rec = http1.Record{
		Remote: remote, Major: req.Major, Minor: req.Minor, Status: resp.Status,
		Method: keep(&b, req.MethodName), Target: keep(&b, req.Target), Host: keep(&b, req.Host),
		Referer: keep(&b, req.Referer), UserAgent: keep(&b, req.UserAgent),
	}
	p.hdrs = p.hdrs[:0]
	if headers {
		for i := range req.Headers {
			h := &req.Headers[i]
			p.hdrs = append(p.hdrs, http1.Header{Name: keep(&b, h.Name), Value: keep(&b, h.Value)})
		}
		p.rec.Headers = p.hdrs
	}
	p.buf = b
	p.start, p.begin, p.head, p.end, p.frame = st.start, begin, head, end, st.out.framing
}

// keep appends s to *b, which has room for it, and returns the copy.
func keep(b *[]byte, s []byte) []byte {
	i := len(*b)
	*b = append(*b, s...)
	return (*b)[i:len(*b):len(*b)]
}

// logSent emits the records of the responses now sent in full.
func (c *Conn) logSent() {
	st := c.st
	var now time.Time
	for st.rhead < len(st.recs) {
		p := &st.recs[st.rhead]
		if st.out.pending() && (p.end < 0 || st.out.sent < p.end) {
			return
		}
		if now.IsZero() {
			now = time.Now()
		}
		st.rhead++
		c.emit(p, now)
	}
}

// logAborted emits the records of the responses that will not be sent in
// full, with what of each was sent.
func (c *Conn) logAborted() {
	st := c.st
	if st == nil || st.rhead == len(st.recs) {
		return
	}
	now := time.Now()
	for st.rhead < len(st.recs) {
		p := &st.recs[st.rhead]
		st.rhead++
		c.emit(p, now)
	}
}

// emit completes p's record at now and hands it to the log and the meter.
func (c *Conn) emit(p *pending, now time.Time) {
	sent := c.st.out.sent - p.begin
	if p.end >= 0 {
		sent = min(sent, p.end-p.begin)
	}
	sent = max(sent, 0)
	r := &p.rec
	r.Time, r.Sent, r.Bytes, r.Duration = now, sent, max(sent-p.head-(c.st.out.framing-p.frame), 0), 0
	if n := now.UnixNano(); p.start > 0 && p.start <= n {
		r.Duration = time.Duration(n - p.start)
	}
	if c.cfg.Log != nil {
		c.cfg.Log.Log(r)
	}
	if c.m != nil {
		c.m.Log(r)
	}
}
