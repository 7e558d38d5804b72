package h2

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/http1"
)

const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// A stream is open (its request may still send DATA) or half-closed
// (remote): the request is whole, the answer is being made or sent. A
// closed stream is one that is no longer in conn.streams.
const (
	stateOpen = iota
	stateHalfClosedRemote
)

var (
	errClosed = errors.New("weft: HTTP/2 connection closed")
	errReset  = errors.New("weft: HTTP/2 stream reset")
)

// errCalm is the connection error of a client past a limit (GOAWAY
// ENHANCE_YOUR_CALM).
var errCalm = http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)

// conn is one HTTP/2 connection. Its goroutine (serve) reads and handles
// frames; the fields under "read side" are its alone. Everything else is
// guarded by mu, which handlers' goroutines take to write their answers.
type conn struct {
	s      *Server
	lim    *Limits
	nc     net.Conn
	tls    bool
	remote netip.AddrPort
	br     *bufio.Reader
	fr     *http2.Framer

	// Read side.
	dec         *hpack.Decoder
	fields      []hpack.HeaderField // the header block being decoded
	listSize    int                 // its size (RFC 9113 §6.5.2)
	truncated   bool                // past MaxHeaderListSize: answered 431
	invalid     bool                // a field is malformed (§8.2.1)
	sawRegular  bool
	block       []byte // the fragments of a header block in CONTINUATION frames
	blockID     uint32
	blockEnd    bool // the HEADERS frame had END_STREAM
	blockPrio   http2.PriorityParam
	conts       int
	sawSettings bool
	tokens      float64 // the control-frame bucket (see spend)
	tokensAt    time.Time
	recvWindow  int // bytes the client may still send on the connection

	mu      sync.Mutex
	cond    sync.Cond // signalled when windows grow, streams reset, the connection ends
	bw      *bufio.Writer
	enc     *hpack.Encoder
	hbuf    bytes.Buffer
	streams map[uint32]*stream
	maxID   uint32 // the highest stream the client opened
	// resetIDs are the streams the server reset last (a ring, resetNext
	// the next slot): the client's frames on them are ignored.
	resetIDs  [32]uint32
	resetNext uint32
	// sendWindow is the connection's window for our DATA; peerWindow
	// the initial window of a stream, peerFrame the largest frame the
	// client takes (its SETTINGS).
	sendWindow      int64
	peerWindow      int64
	peerFrame       int
	unackedSettings int
	recvUnacked     int   // connection credit taken back from DATA, not yet returned
	err             error // writes fail from now on
	goaway          bool  // GOAWAY sent: no new streams
	lastID          uint32
	closing         bool // gently closing: CloseWrite done
	started         bool // our SETTINGS are written: GOAWAY may follow
	running         int  // handler goroutines, reset streams included
	inBatch         bool // the read side handles input: it flushes when done
	deadlineSet     bool // a read deadline is set (idle or preface)
	deadlineAt      time.Time
	clock           http1.Clock
	dateSec         int64
	date            string
	intern          map[string]string
	scratch         []byte
	scratchInt      []byte
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, lim: &s.lim, nc: nc}
	c.cond.L = &c.mu
	if tc, ok := nc.(*tls.Conn); ok {
		c.tls = true
		_ = tc
	}
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.remote = ta.AddrPort()
	} else if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.remote = ap
	}
	c.br = bufio.NewReaderSize(nc, 16<<10)
	c.bw = bufio.NewWriterSize(deadlineWriter{nc, s.lim.WriteByteTimeout}, 32<<10)
	c.fr = http2.NewFramer(c.bw, c.br)
	c.fr.SetMaxReadFrameSize(uint32(s.lim.MaxReadFrameSize))
	c.fr.SetReuseFrames()
	c.dec = hpack.NewDecoder(uint32(s.lim.DecoderTableSize), c.emit)
	c.dec.SetMaxStringLength(s.lim.MaxHeaderListSize)
	c.enc = hpack.NewEncoder(&c.hbuf)
	c.enc.SetMaxDynamicTableSizeLimit(uint32(s.lim.EncoderTableSize))
	c.streams = map[uint32]*stream{}
	c.sendWindow, c.peerWindow, c.peerFrame = 65535, 65535, 16384
	c.recvWindow = s.lim.ConnWindow
	c.intern = map[string]string{}
	c.tokens = float64(s.lim.ControlBurst)
	return c
}

// deadlineWriter writes to a connection within a write timeout per call:
// a client that takes no byte for that long fails the write.
type deadlineWriter struct {
	nc      net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.nc.Write(p)
}

// serve runs the connection: the preface, then frames until it ends.
func (c *conn) serve() {
	defer c.close()
	if !c.readPreface() {
		return
	}
	c.mu.Lock()
	c.writeSettingsLocked()
	c.flushLocked()
	c.mu.Unlock()
	c.loop()
}

// readPreface reads the client preface, within PrefaceTimeout, and
// reports whether it came.
func (c *conn) readPreface() bool {
	c.nc.SetReadDeadline(time.Now().Add(c.s.PrefaceTimeout))
	c.deadlineSet = true
	return c.prefaceCame()
}

// prefaceCame reads the client preface, within the read deadline set,
// and reports whether it came.
func (c *conn) prefaceCame() bool {
	var pre [len(clientPreface)]byte
	if _, err := io.ReadFull(c.br, pre[:]); err != nil || string(pre[:]) != clientPreface {
		if err == nil {
			c.refusePreface()
		}
		return false
	}
	return true
}

// writeSettingsLocked writes the server's connection preface: its
// SETTINGS and the connection window.
func (c *conn) writeSettingsLocked() {
	settings := []http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: uint32(c.lim.MaxConcurrentStreams)},
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.lim.StreamWindow)},
		{ID: http2.SettingMaxFrameSize, Val: uint32(c.lim.MaxReadFrameSize)},
		{ID: http2.SettingMaxHeaderListSize, Val: uint32(c.lim.MaxHeaderListSize)},
	}
	if c.lim.DecoderTableSize != 4096 {
		settings = append(settings, http2.Setting{ID: http2.SettingHeaderTableSize, Val: uint32(c.lim.DecoderTableSize)})
	}
	c.fr.WriteSettings(settings...)
	c.unackedSettings++
	if d := c.lim.ConnWindow - 65535; d > 0 {
		c.fr.WriteWindowUpdate(0, uint32(d))
	}
	c.started = true
}

// loop reads and handles frames until the connection ends.
func (c *conn) loop() {
	for {
		if !c.frameBuffered() {
			c.mu.Lock()
			c.inBatch = false
			c.flushLocked()
			done := c.goaway && len(c.streams) == 0 && c.running == 0
			if done {
				c.closeGentlyLocked()
			} else {
				c.idleDeadlineLocked()
			}
			err := c.err
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
		f, err := c.fr.ReadFrame()
		c.mu.Lock()
		c.inBatch = true
		if err == nil {
			err = c.process(f)
		}
		if err != nil && !c.fail(err) {
			c.mu.Unlock()
			c.drain()
			return
		}
		c.mu.Unlock()
	}
}

// frameBuffered reports whether the next frame is wholly in the read
// buffer, so that reading it cannot block. Otherwise the batch ends
// before the read: what it answered is flushed, and handlers flush their
// own writes, instead of waiting for a frame that may arrive slowly (or
// never, from a client waiting for those answers).
func (c *conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 9 {
		return false
	}
	h, _ := c.br.Peek(3) // buffered: does not block
	return n >= 9+(int(h[0])<<16|int(h[1])<<8|int(h[2]))
}

// fail handles an error of reading or handling a frame and reports
// whether the connection goes on: a stream error resets the stream, a
// connection error sends GOAWAY.
func (c *conn) fail(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		c.resetLocked(se.StreamID, se.Code)
		return c.err == nil
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.goAwayLocked(http2.ErrCodeFrameSize)
	case errors.As(err, &ce):
		c.goAwayLocked(http2.ErrCode(ce))
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !c.closing {
			c.goAwayLocked(http2.ErrCodeNo) // idle too long: goodbye
		} else if c.err == nil {
			c.err = err // the client left
		}
	}
	return false
}

// refusePreface ends a connection whose first bytes are not the client
// preface: half-closed, then what the client sent is drained for a moment
// and the connection closed, so that the kernel sends a FIN, not a reset
// for unread bytes (RFC 9113 §3.4).
func (c *conn) refusePreface() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(c.br, 64<<10))
}

// drain reads and drops what the client still sends, after a GOAWAY that
// ends the connection, for up to a second, so that the GOAWAY is read
// before the close (unread bytes would make the kernel reset).
func (c *conn) drain() {
	c.mu.Lock()
	c.closeGentlyLocked()
	c.mu.Unlock()
	io.Copy(io.Discard, io.LimitReader(c.br, 1<<20))
}

// close ends the connection: handlers' writes fail from now on.
func (c *conn) close() {
	c.mu.Lock()
	if c.err == nil {
		c.err = errClosed
	}
	for _, st := range c.streams {
		c.abortLocked(st)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	c.nc.Close()
}

// shutdown starts a graceful end (Server.Shutdown): GOAWAY, and the close
// once the streams in flight are done. Safe to call from any goroutine.
func (c *conn) shutdown() {
	go func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.started {
			c.nc.Close() // before the preface: nothing to finish
			return
		}
		c.goAwayLocked(http2.ErrCodeNo)
		c.flushLocked()
		if len(c.streams) == 0 && c.running == 0 {
			c.closeGentlyLocked()
		}
	}()
}

// closeGentlyLocked flushes, ends our side (a TLS close_notify or a TCP
// FIN) and gives the client a second to see it before the reader's
// deadline closes the connection.
func (c *conn) closeGentlyLocked() {
	if c.closing {
		return
	}
	c.closing = true
	c.flushLocked()
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(time.Second))
	c.deadlineSet, c.deadlineAt = true, time.Now().Add(time.Hour) // never moved again
	if c.err == nil {
		c.err = errClosed
	}
	c.cond.Broadcast()
}

// idleDeadlineLocked keeps a read deadline of IdleTimeout while the
// connection waits only for the client (moved once a second at most):
// no handler runs, and its open streams, if any, wait for the rest of
// their requests. None otherwise.
func (c *conn) idleDeadlineLocked() {
	idle := c.running == 0
	switch {
	case idle:
		now := time.Now()
		if !c.deadlineSet || now.Sub(c.deadlineAt) > time.Second {
			c.nc.SetReadDeadline(now.Add(c.lim.IdleTimeout))
			c.deadlineSet, c.deadlineAt = true, now
		}
	case c.deadlineSet && !c.closing:
		c.nc.SetReadDeadline(time.Time{})
		c.deadlineSet = false
	}
}

// spend takes a token from the control-frame bucket and reports whether
// there was one. Floods of RST_STREAM (rapid reset, CVE-2023-44487), PING
// or SETTINGS make the server work for each frame; real clients send a
// SETTINGS or two per connection, and reset streams in bursts (a page
// left) that the bucket's size allows.
func (c *conn) spend() bool {
	now := time.Now()
	if !c.tokensAt.IsZero() {
		c.tokens = min(float64(c.lim.ControlBurst), c.tokens+now.Sub(c.tokensAt).Seconds()*float64(c.lim.ControlRate))
	}
	c.tokensAt = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// process handles one frame, under mu.
func (c *conn) process(f http2.Frame) error {
	if !c.sawSettings {
		if _, ok := f.(*http2.SettingsFrame); !ok {
			return http2.ConnectionError(http2.ErrCodeProtocol) // §3.4
		}
		c.sawSettings = true
	}
	if id := f.Header().StreamID; c.goaway && id > c.lastID {
		switch f := f.(type) {
		case *http2.HeadersFrame, *http2.ContinuationFrame:
			// Decoded (the HPACK table is shared), then dropped.
		case *http2.DataFrame:
			// A stream opened after GOAWAY: not served, but the
			// connection's window is given back.
			if int(f.Length) > c.recvWindow {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
			c.recvWindow -= int(f.Length)
			c.creditLocked(nil, int(f.Length))
			return nil
		default:
			return nil
		}
	}
	switch f := f.(type) {
	case *http2.HeadersFrame:
		c.blockID, c.blockEnd, c.blockPrio, c.conts = f.StreamID, f.StreamEnded(), f.Priority, 0
		if !f.HasPriority() {
			c.blockPrio = http2.PriorityParam{}
		}
		if f.HeadersEnded() {
			return c.headerBlock(f.HeaderBlockFragment())
		}
		c.block = append(c.block[:0], f.HeaderBlockFragment()...)
		return nil
	case *http2.ContinuationFrame: // the Framer checks that one is expected
		c.conts++
		if c.conts > c.lim.MaxContinuations {
			return errCalm // CONTINUATION flood (CVE-2024-27316 class)
		}
		c.block = append(c.block, f.HeaderBlockFragment()...)
		if len(c.block) > 2*c.lim.MaxHeaderListSize+c.lim.MaxReadFrameSize {
			return http2.ConnectionError(http2.ErrCodeProtocol) // as the Framer does
		}
		if f.HeadersEnded() {
			return c.headerBlock(c.block)
		}
		return nil
	case *http2.DataFrame:
		return c.data(f)
	case *http2.WindowUpdateFrame:
		return c.windowUpdate(f)
	case *http2.SettingsFrame:
		return c.settings(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		if !c.spend() {
			return errCalm
		}
		return c.fr.WritePing(true, f.Data)
	case *http2.RSTStreamFrame:
		if !c.spend() {
			return errCalm
		}
		st := c.streams[f.StreamID]
		if st == nil {
			if f.StreamID > c.maxID {
				return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream (§6.4)
			}
			return nil
		}
		c.closeStreamLocked(st)
		return nil
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol} // §5.3.1
		}
		return nil
	case *http2.GoAwayFrame:
		c.goAwayLocked(http2.ErrCodeNo) // the client is leaving: finish and close
		return nil
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // a client cannot push (§8.4)
	}
	return nil // unknown frame types are ignored (§5.5)
}

func (c *conn) settings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		if c.unackedSettings > 0 {
			c.unackedSettings--
		}
		return nil
	}
	if !c.spend() {
		return errCalm
	}
	// Parameters are processed in order (§6.5.3): a repeated one ends
	// with its last value.
	if err := f.ForeachSetting(c.applySetting); err != nil {
		return err
	}
	return c.fr.WriteSettingsAck()
}

// applySetting takes one of the client's settings, under mu.
func (c *conn) applySetting(s http2.Setting) error {
	if err := s.Valid(); err != nil {
		return err
	}
	switch s.ID {
	case http2.SettingInitialWindowSize:
		delta := int64(s.Val) - c.peerWindow
		c.peerWindow = int64(s.Val)
		for _, st := range c.streams {
			st.sendWindow += delta
			if st.sendWindow > 1<<31-1 {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
		}
		c.cond.Broadcast()
	case http2.SettingMaxFrameSize:
		c.peerFrame = int(s.Val)
	case http2.SettingHeaderTableSize:
		c.enc.SetMaxDynamicTableSize(s.Val)
	}
	return nil
}

func (c *conn) windowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment) // the Framer refuses 0
	if f.StreamID == 0 {
		c.sendWindow += inc
		if c.sendWindow > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.cond.Broadcast()
		return nil
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.maxID {
			return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream (§5.1)
		}
		return nil // closed: allowed for a while (§6.9)
	}
	st.sendWindow += inc
	if st.sendWindow > 1<<31-1 {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl}
	}
	c.cond.Broadcast()
	return nil
}

// data takes a DATA frame: into an upload's body, or dropped (a static
// site reads no body: the request is answered once it is whole).
func (c *conn) data(f *http2.DataFrame) error {
	id, length := f.StreamID, int(f.Length)
	st := c.streams[id]
	if st == nil && id > c.maxID {
		return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream (§5.1)
	}
	if length > c.recvWindow {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= length
	if st == nil && c.resetByUs(id) {
		c.creditLocked(nil, length) // sent before our RST_STREAM was seen
		return nil
	}
	if st == nil || st.state != stateOpen {
		c.creditLocked(nil, length)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if length > st.recvWindow {
		c.creditLocked(nil, length)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	}
	st.recvWindow -= length
	data := f.Data()
	st.got += int64(len(data))
	if st.declared >= 0 && st.got > st.declared {
		c.creditLocked(nil, length)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol} // §8.1.1
	}
	if st.body != nil {
		if st.body.put(data) {
			c.creditLocked(st, length-len(data)) // the padding
		} else {
			c.creditLocked(nil, length) // a body that failed (timed out)
		}
	} else {
		c.creditLocked(st, length)
	}
	if f.StreamEnded() {
		return c.endStream(st)
	}
	if st.body == nil && !st.answered && st.got > c.s.MaxBodyBytes {
		c.answer(st) // enough of it: answered, and the rest refused after
	}
	return nil
}

// creditLocked gives back flow-control credit for n bytes of DATA taken
// (on st too, unless nil or closed), in WINDOW_UPDATE frames once a
// quarter of a window has been taken.
func (c *conn) creditLocked(st *stream, n int) {
	if n <= 0 {
		return
	}
	c.recvWindow += n
	c.recvUnacked += n
	if c.recvUnacked >= c.lim.ConnWindow/4 {
		c.fr.WriteWindowUpdate(0, uint32(c.recvUnacked))
		c.recvUnacked = 0
	}
	if st == nil || st.state != stateOpen || c.streams[st.id] != st {
		return
	}
	st.recvWindow += n
	st.recvUnacked += n
	if st.recvUnacked >= c.lim.StreamWindow/4 {
		c.fr.WriteWindowUpdate(st.id, uint32(st.recvUnacked))
		st.recvUnacked = 0
	}
}

// endStream takes the end of a request: its body is whole.
func (c *conn) endStream(st *stream) error {
	if st.declared >= 0 && st.got != st.declared {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol} // §8.1.1
	}
	st.state = stateHalfClosedRemote
	if st.body != nil {
		st.body.end(io.EOF)
		return nil
	}
	if !st.answered {
		c.answer(st)
	}
	return nil
}

// emit takes each decoded field of a header block, checking it as
// golang.org/x/net/http2's Framer does (valid names and values, pseudo
// fields first) and stopping past the header list limit.
func (c *conn) emit(f hpack.HeaderField) {
	if c.invalid || c.truncated {
		return
	}
	if !httpguts.ValidHeaderFieldValue(f.Value) {
		c.invalid = true
		return
	}
	if strings.HasPrefix(f.Name, ":") {
		if c.sawRegular {
			c.invalid = true
			return
		}
	} else {
		c.sawRegular = true
		if !validWireName(f.Name) {
			c.invalid = true
			return
		}
	}
	c.listSize += int(f.Size())
	if c.listSize > c.lim.MaxHeaderListSize {
		c.truncated = true
		return
	}
	c.fields = append(c.fields, f)
}

// validWireName reports whether name is a valid field name in lower case
// (RFC 9113 §8.2.1).
func validWireName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if 'A' <= b && b <= 'Z' || !httpguts.IsTokenRune(rune(b)) {
			return false
		}
	}
	return true
}

// headerBlock decodes a whole header block (always, so that the HPACK
// table stays the client's) and opens its stream or takes its trailers.
func (c *conn) headerBlock(frag []byte) error {
	c.fields = c.fields[:0]
	c.listSize, c.truncated, c.invalid, c.sawRegular = 0, false, false, false
	if _, err := c.dec.Write(frag); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if err := c.dec.Close(); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	id := c.blockID
	if c.goaway && id > c.lastID {
		return nil // after GOAWAY: not served (the client may retry it elsewhere)
	}
	if id%2 != 1 {
		return http2.ConnectionError(http2.ErrCodeProtocol) // §5.1.1
	}
	if st := c.streams[id]; st != nil {
		if st.state != stateOpen {
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
		}
		return c.trailers(st)
	}
	if id <= c.maxID {
		if c.resetByUs(id) {
			return nil // trailers sent before our RST_STREAM was seen
		}
		return http2.ConnectionError(http2.ErrCodeProtocol) // §5.1.1
	}
	c.maxID = id
	if c.blockPrio.StreamDep == id {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol} // §5.3.1
	}
	if c.invalid {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if len(c.streams) >= c.lim.MaxConcurrentStreams {
		code := http2.ErrCodeProtocol // past what we announced
		if c.unackedSettings > 0 {
			code = http2.ErrCodeRefusedStream // perhaps not seen yet
		}
		return http2.StreamError{StreamID: id, Code: code}
	}
	if c.running >= 2*c.lim.MaxConcurrentStreams {
		return errCalm // handlers of reset streams pile up (rapid reset)
	}
	st := newStream(c, id)
	if err := c.request(st); err != nil {
		st.release()
		return err
	}
	if c.blockEnd {
		st.state = stateHalfClosedRemote
		c.answer(st)
		return nil
	}
	st.state = stateOpen
	st.recvWindow = c.lim.StreamWindow
	c.streams[id] = st
	limit := c.s.MaxBodyBytes
	if st.status == 0 && c.s.bh != nil {
		if l := c.s.bh.BodyLimit(&st.req); l > 0 {
			limit = l
			st.body = newPipe(st, l)
			st.req.Body = st.body
		}
	}
	switch {
	case st.status == 0 && st.declared > limit:
		st.status = 413
		c.answer(st)
	case st.body != nil:
		c.answer(st) // the handler reads the body as it comes
	}
	return nil
}

// trailers takes a second header block on an open stream: it must end
// the stream and carry no pseudo field (§8.1).
func (c *conn) trailers(st *stream) error {
	if !c.blockEnd {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	if c.invalid {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	for _, f := range c.fields {
		if f.IsPseudo() {
			return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
		}
	}
	return c.endStream(st)
}

// request builds st's request from the decoded header block. A malformed
// request (§8.1.1, §8.2, §8.3) is a stream error; one that HTTP/1.1 would
// refuse gets the same status (st.status).
func (c *conn) request(st *stream) error {
	var method, scheme, authority, path string
	var seen [5]bool
	st.declared = -1
	for _, f := range c.fields {
		if !f.IsPseudo() {
			switch f.Name {
			case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
				return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol} // §8.2.2
			case "te":
				if f.Value != "trailers" && f.Value != "" {
					return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
				}
			case "content-length":
				n, err := strconv.ParseInt(f.Value, 10, 64)
				if err != nil || n < 0 || st.declared >= 0 && st.declared != n {
					return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
				}
				st.declared = n
			}
			continue
		}
		var i int
		var v *string
		switch f.Name {
		case ":method":
			i, v = 0, &method
		case ":scheme":
			i, v = 1, &scheme
		case ":authority":
			i, v = 2, &authority
		case ":path":
			i, v = 3, &path
		default: // :status, :protocol (no extended CONNECT), unknown ones
			return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
		}
		if seen[i] {
			return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
		}
		seen[i], *v = true, f.Value
	}
	target := path
	if method == "CONNECT" {
		if path != "" || scheme != "" || authority == "" {
			return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
		}
		target = authority
	} else if method == "" || path == "" || scheme != "https" && scheme != "http" {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol} // §8.3.1
	}
	if c.blockEnd && st.declared > 0 {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol} // §8.1.1: no DATA
	}
	st.start = time.Now()
	req := &st.req
	err := req.SetTarget(s2b(method), s2b(target), 2)
	host := authority
	size := len(method) + 1 + len(target) + len(" HTTP/1.1\r\n")
	line := size
	count := 1
	var cookie string // the cookie fields, joined as HTTP/1.1 carries them (RFC 9113 §8.2.3)
	var cookies int
	for _, f := range c.fields {
		switch {
		case f.IsPseudo():
			continue
		case f.Name == "host":
			if host == "" {
				host = f.Value
			}
			continue
		case f.Name == "cookie":
			if cookies++; cookies == 1 {
				cookie = f.Value
			} else {
				cookie += "; " + f.Value
			}
			continue
		}
		size += len(f.Name) + len(": \r\n") + len(f.Value)
		count++
		if err == nil {
			err = req.AddField(s2b(f.Name), s2b(f.Value))
		}
	}
	if cookies > 0 {
		size += len("cookie: \r\n") + len(cookie)
		count++
		if err == nil {
			err = req.AddField(s2b("cookie"), s2b(cookie))
		}
	}
	size += len("Host: \r\n") + len(host) + len("\r\n")
	if err == nil {
		err = req.SetHost(s2b(host))
	}
	req.Remote, req.TLS = c.remote, c.tls
	req.ContentLength = st.declared
	if c.blockEnd {
		req.ContentLength = 0
	}
	switch {
	case c.truncated:
		st.status = 431
	case err != nil:
		st.status = http1.StatusOf(err)
	default:
		st.status = http1.HeadStatus(c.s.head, line, size, count, len(target))
	}
	return nil
}
