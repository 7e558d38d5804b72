package h2

import (
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/http1"
)

// stream is one request and its answer. The read side sets it up and
// feeds its body; once answered from memory it is released at once,
// otherwise its goroutine (run) owns the answer. Fields other than the
// request are guarded by conn.mu.
type stream struct {
	c        *conn
	id       uint32
	state    int
	declared int64 // content-length, or -1
	got      int64 // DATA bytes received
	// recvWindow is what the client may still send on it, recvUnacked the
	// credit taken back and not yet returned.
	recvWindow  int
	recvUnacked int
	sendWindow  int64
	body        *pipe // an upload's body, read by the handler; nil if dropped
	status      int   // an error status decided before the handler (431, 413...)
	answered    bool
	running     bool // its goroutine owns it
	reset       bool // reset or the connection ended: writes fail
	sent        int64
	left        int64 // body bytes still to send in run, -1 for a Stream
	start       time.Time
	req         http1.Request
	resp        http1.Response
	rec         http1.Record
}

var streamPool = sync.Pool{New: func() any { return new(stream) }}

func newStream(c *conn, id uint32) *stream {
	st := streamPool.Get().(*stream)
	st.c, st.id, st.sendWindow, st.declared = c, id, c.peerWindow, -1
	return st
}

// release clears st for reuse.
func (st *stream) release() {
	st.req.Reset()
	st.resp.Reset()
	req, resp := st.req, st.resp
	*st = stream{req: req, resp: resp}
	streamPool.Put(st)
}

// abortLocked makes st's writes fail and its body reads end; body bytes
// the handler did not read give their connection window back.
func (c *conn) abortLocked(st *stream) {
	st.reset = true
	if st.body != nil {
		c.creditLocked(nil, st.body.drop())
	}
}

// closeStreamLocked removes st (reset by either side); it is released
// here unless its goroutine owns it.
func (c *conn) closeStreamLocked(st *stream) {
	if c.streams[st.id] == st {
		delete(c.streams, st.id)
	}
	c.abortLocked(st)
	c.cond.Broadcast()
	if !st.running {
		st.release()
	}
}

// rstLocked sends RST_STREAM for stream id and remembers that it did:
// frames the client sent on the stream before it saw the reset are then
// ignored, not taken for a protocol error (RFC 9113 §5.1, "closed").
func (c *conn) rstLocked(id uint32, code http2.ErrCode) {
	c.fr.WriteRSTStream(id, code)
	c.resetIDs[c.resetNext%uint32(len(c.resetIDs))] = id
	c.resetNext++
}

// resetByUs reports whether the server recently reset stream id.
func (c *conn) resetByUs(id uint32) bool {
	for _, r := range c.resetIDs {
		if r == id {
			return true
		}
	}
	return false
}

// resetLocked sends RST_STREAM for stream id and closes it.
func (c *conn) resetLocked(id uint32, code http2.ErrCode) {
	if c.err != nil {
		return
	}
	c.rstLocked(id, code)
	if st := c.streams[id]; st != nil {
		c.closeStreamLocked(st)
	}
}

// goAwayLocked sends GOAWAY with code: NO_ERROR lets the streams opened so
// far finish; any other code ends the connection.
func (c *conn) goAwayLocked(code http2.ErrCode) {
	if c.err != nil || c.goaway && code == http2.ErrCodeNo {
		return
	}
	c.goaway, c.lastID = true, c.maxID
	c.fr.WriteGoAway(c.maxID, code, nil)
	c.flushLocked()
}

// flushLocked writes out what is buffered; a failed write ends the
// connection.
func (c *conn) flushLocked() {
	if c.err != nil || c.bw.Buffered() == 0 {
		return
	}
	if err := c.bw.Flush(); err != nil {
		c.brokenLocked(err)
	}
}

// brokenLocked ends a connection whose writes failed.
func (c *conn) brokenLocked(err error) {
	if c.err == nil {
		c.err = err
	}
	c.cond.Broadcast()
	c.nc.Close() // the reader stops too
}

// answer answers st on the read side if it can: an error status, or the
// site's memory answer when its body fits the flow-control windows; else
// st goes to a goroutine of its own.
func (c *conn) answer(st *stream) {
	st.answered = true
	resp := &st.resp
	switch {
	case st.status != 0:
		http1.ErrorPage(resp, st.status)
	case st.body != nil || c.s.mh == nil || !c.s.mh.ServeFromMemory(&st.req, resp):
		c.startLocked(st, false)
		return
	}
	if resp.Stream != nil || !c.fitsLocked(st) {
		c.startLocked(st, true)
		return
	}
	c.writeAllLocked(st)
	if resp.Closer != nil {
		resp.Closer.Close()
		resp.Closer = nil
	}
	c.doneLocked(st)
	st.release()
}

// startLocked hands st to a goroutine: the handler's answer if planned is
// false, else the planned answer, written as the windows allow.
func (c *conn) startLocked(st *stream, planned bool) {
	st.running = true
	c.running++
	c.streams[st.id] = st
	go st.run(planned)
}

// doneLocked ends st once answered: logged, closed (a client still
// sending gets RST_STREAM NO_ERROR, §8.1), and the connection closed if it
// was the last stream after GOAWAY.
func (c *conn) doneLocked(st *stream) {
	c.record(st)
	if c.streams[st.id] == st {
		if st.state == stateOpen && !st.reset && c.err == nil {
			c.rstLocked(st.id, http2.ErrCodeNo)
		}
		delete(c.streams, st.id)
		c.abortLocked(st)
	}
	if c.running == 0 && !c.inBatch {
		if c.goaway && len(c.streams) == 0 {
			c.closeGentlyLocked()
		} else {
			c.idleDeadlineLocked()
		}
	}
}

// bodyLen is the length of the DATA st's answer sends; -1 for a Stream.
func bodyLen(st *stream) int64 {
	resp := &st.resp
	if !http1.BodyAllowed(resp.Status) || st.req.Method == http1.MethodHead {
		return 0
	}
	if resp.Stream != nil {
		return -1
	}
	return resp.ContentLength()
}

func (c *conn) fitsLocked(st *stream) bool {
	n := bodyLen(st)
	return n >= 0 && n <= c.sendWindow && n <= st.sendWindow
}

// writeAllLocked writes st's answer whole (it fits the windows).
func (c *conn) writeAllLocked(st *stream) {
	resp := &st.resp
	n := bodyLen(st)
	c.headLocked(st, resp.Status, n == 0)
	if n == 0 {
		return
	}
	switch {
	case resp.File != nil:
		c.segmentLocked(st, resp.File, resp.Off, resp.Len, true)
	case len(resp.Parts) > 0:
		// Empty pieces are skipped: the last piece with bytes carries
		// END_STREAM, and nothing may follow it (n > 0 here).
		left := n
		for i := range resp.Parts {
			p := &resp.Parts[i]
			if len(p.Head) > 0 {
				left -= int64(len(p.Head))
				c.dataLocked(st, p.Head, left == 0)
			}
			if len(p.Data) > 0 {
				left -= int64(len(p.Data))
				c.dataLocked(st, p.Data, left == 0)
			}
			if p.File != nil {
				left -= p.Len
				if !c.segmentLocked(st, p.File, p.Off, p.Len, left == 0) {
					return
				}
			}
		}
	default:
		c.dataLocked(st, resp.Body, true)
	}
}

// segmentLocked sends [off, off+n) of f; a file that shrank or failed
// cuts the stream (RST_STREAM), never padded or left short as if whole.
func (c *conn) segmentLocked(st *stream, f http1.File, off, n int64, end bool) bool {
	if c.scratch == nil {
		c.scratch = make([]byte, 16<<10)
	}
	for n > 0 {
		k := min(n, int64(len(c.scratch)), int64(c.peerFrame))
		m, err := f.ReadAt(c.scratch[:k], off)
		if int64(m) < k {
			c.s.ErrorLog.Debug("HTTP/2: file shrank or failed; stream cut", "err", err, "stream", st.id)
			// Not resetLocked: st is the caller's until doneLocked.
			c.rstLocked(st.id, http2.ErrCodeInternal)
			st.reset = true
			return false
		}
		off += k
		n -= k
		c.dataLocked(st, c.scratch[:k], end && n == 0)
	}
	return true
}

// dataLocked sends p in DATA frames, END_STREAM on the last if end; the
// windows hold room for it.
func (c *conn) dataLocked(st *stream, p []byte, end bool) {
	if len(p) == 0 && !end {
		return
	}
	for {
		k := min(len(p), c.peerFrame)
		last := end && k == len(p)
		if err := c.fr.WriteData(st.id, last, p[:k]); err != nil {
			c.brokenLocked(err)
			return
		}
		c.sendWindow -= int64(k)
		st.sendWindow -= int64(k)
		st.sent += int64(k)
		p = p[k:]
		if len(p) == 0 {
			return
		}
	}
}

// headLocked writes the HEADERS (and CONTINUATION) of st's answer.
func (c *conn) headLocked(st *stream, status int, end bool) {
	resp := &st.resp
	c.hbuf.Reset()
	c.field(":status", statusString(status))
	if status >= 200 {
		c.field("server", "weft")
		c.field("date", c.dateLocked())
		c.fieldsOf(&resp.Fixed)
		c.fieldsOf(&resp.Header)
		if c.s.AltSvc != "" {
			c.field("alt-svc", c.s.AltSvc)
		}
		if http1.BodyAllowed(status) && resp.Stream == nil {
			c.scratchInt = strconv.AppendInt(c.scratchInt[:0], resp.ContentLength(), 10)
			c.field("content-length", c.internBytes(c.scratchInt))
		}
	}
	block := c.hbuf.Bytes()
	first := block[:min(len(block), c.peerFrame)]
	block = block[len(first):]
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: first, EndStream: end, EndHeaders: len(block) == 0})
	for err == nil && len(block) > 0 {
		k := min(len(block), c.peerFrame)
		err = c.fr.WriteContinuation(st.id, k == len(block), block[:k])
		block = block[k:]
	}
	if err != nil {
		c.brokenLocked(err)
	}
}

func (c *conn) field(name, value string) {
	c.enc.WriteField(hpack.HeaderField{Name: name, Value: value})
}

// fieldsOf encodes f's fields, names in lower case, leaving out the ones
// that HTTP/2 forbids (§8.2.2).
func (c *conn) fieldsOf(f *http1.Fields) {
	for i := range f.Len() {
		name, value := f.Field(i)
		n := c.lowerName(name)
		switch n {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue
		}
		c.field(n, c.internBytes(value))
	}
}

// lowerName is name in lower case, without an allocation for the names
// the site writes.
func (c *conn) lowerName(name []byte) string {
	if s, ok := lowerNames[string(name)]; ok {
		return s
	}
	c.scratchInt = append(c.scratchInt[:0], name...)
	for i, b := range c.scratchInt {
		if 'A' <= b && b <= 'Z' {
			c.scratchInt[i] = b + 'a' - 'A'
		}
	}
	return c.internBytes(c.scratchInt)
}

// internBytes returns b as a string, the same one for the same bytes while
// it is in the connection's table: the HPACK encoder keeps the strings it
// indexes, so they must be immutable, and a response's values repeat.
func (c *conn) internBytes(b []byte) string {
	if s, ok := c.intern[string(b)]; ok {
		return s
	}
	if len(c.intern) >= 512 {
		clear(c.intern)
	}
	s := string(b)
	c.intern[s] = s
	return s
}

func (c *conn) dateLocked() string {
	now := time.Now()
	if sec := now.Unix(); sec != c.dateSec || c.date == "" {
		c.dateSec, c.date = sec, string(c.clock.Date(now))
	}
	return c.date
}

// lowerNames are the field names the site writes, in lower case.
var lowerNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"Content-Type", "Content-Encoding", "Content-Range", "Content-Length", "Vary", "Cache-Control", "ETag",
		"Last-Modified", "Accept-Ranges", "Location", "Allow", "WWW-Authenticate", "Alt-Svc",
		"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
		"Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
		"Access-Control-Allow-Headers", "Access-Control-Max-Age", "Strict-Transport-Security",
		"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy",
		"Cross-Origin-Opener-Policy", "Permissions-Policy", "Retry-After", "Content-Disposition", "Expires",
	} {
		b := []byte(n)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		m[n] = string(b)
	}
	return m
}()

var statusStrings = func() (s [600]string) {
	for i := 100; i < 600; i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusString(code int) string {
	if code >= 100 && code < 600 {
		return statusStrings[code]
	}
	return strconv.Itoa(code)
}

// record logs st's request with the DATA bytes sent.
func (c *conn) record(st *stream) {
	if c.s.Log == nil || st.resp.Status == 0 {
		return
	}
	req, resp := &st.req, &st.resp
	remote := req.Remote
	if resp.Client.IsValid() {
		remote = netip.AddrPortFrom(resp.Client, 0)
	}
	end := time.Now()
	st.rec = http1.Record{
		Remote: remote, Time: end, Duration: end.Sub(st.start),
		Method: req.MethodName, Target: req.Target, Host: req.Host, Major: 2,
		Status: resp.Status, Bytes: st.sent, Sent: st.sent,
		Referer: req.Referer, UserAgent: req.UserAgent, Headers: req.Headers,
	}
	c.s.Log.Log(&st.rec)
	st.rec = http1.Record{}
}

// s2b views s as bytes; the handler never modifies request bytes.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
