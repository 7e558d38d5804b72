package h2guard

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"time"

	"golang.org/x/net/http2/hpack"
)

// Frame types and flags (RFC 9113 §6).
const (
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameContinuation = 0x9

	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	headerLen = 9
)

const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

var errPreface = errors.New("h2guard: bad client preface")

// config is what the guard must know of Go's server to read frames as it
// does: the same frame size, HPACK table and header list limits.
type config struct {
	maxFrame         int    // Go's MaxReadFrameSize
	tableSize        uint32 // Go's HPACK decoder table size
	maxList          int    // Go's header list limit (and string length limit)
	maxContinuations int
	controlRate      float64       // control-frame bucket: tokens per second...
	controlBurst     float64       // ...and its size
	coalesce         bool          // gather Go's writes (see writer)
	writeTimeout     time.Duration // Go's WriteByteTimeout
}

// conn is one client connection as Go's HTTP/2 server reads it. Read hands
// Go the client's bytes frame by frame: the payload of a frame the guard
// need not see (DATA, WINDOW_UPDATE, PING...) is copied straight from the
// network into Go's buffer as it arrives; HEADERS, CONTINUATION and
// SETTINGS frames are read whole into buf, checked, rewritten if need be,
// then handed over. Writes go to the network unchanged, gathered by wr
// (see writer).
//
// Read is called by one goroutine at a time (Go's frame reader), so the
// read side has no locks.
type conn struct {
	net.Conn
	cfg *config
	tls tls.ConnectionState // for tlsConn

	buf  []byte // buf[r:w]: client bytes read but not yet handled
	r, w int
	out  []byte // handled bytes Go reads next (a frame in buf)...
	tail []byte // ...and then these (an appended CONTINUATION)
	pass int    // bytes of the current frame Go may read as they come

	preface bool // the client preface is still to be read (TLS)
	// off: Go is about to end the connection (a frame it refuses, an
	// undecodable header block), so from here on the guard only forwards.
	off bool
	// killed: the guard handed Go a frame that makes it end the connection
	// with GOAWAY; the client's later bytes are read and dropped.
	killed bool

	dec   *hpack.Decoder // mirrors Go's decoder: same bytes, same order
	block uint32         // stream of the header block in progress, or 0
	conts int            // CONTINUATION frames in that block
	size  int            // its decoded header list size so far
	bad   bool           // it has a field RFC 9113 §8.2.2 forbids
	skip  bool           // Go does not decode it (stream error on HEADERS)

	// A token bucket for RST_STREAM, SETTINGS and PING frames: each takes
	// a token; none left ends the connection.
	tokens   float64
	tokensAt time.Time

	extra [headerLen + len(poisonField)]byte // appended CONTINUATION

	wr *writer // the write side, nil to write straight to the network
}

// poisonField is an HPACK literal field without indexing (it does not touch
// the dynamic table) whose value, a NUL, Go refuses with a stream error of
// type PROTOCOL_ERROR (RFC 9113 §8.2.1).
const poisonField = "\x00\x08h2-guard\x01\x00"

// killFrame is a PING on stream 1: Go answers with a connection error of
// type PROTOCOL_ERROR (GOAWAY), also in the middle of a header block.
var killFrame = []byte{0, 0, 8, framePing, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}

func newConn(c net.Conn, cfg *config, preface bool) *conn {
	g := &conn{Conn: c, cfg: cfg, preface: preface, buf: make([]byte, 4096)}
	if cfg.coalesce {
		g.wr = newWriter(c, cfg.writeTimeout)
	}
	g.dec = hpack.NewDecoder(cfg.tableSize, g.emit)
	g.dec.SetMaxStringLength(cfg.maxList)
	return g
}

// NetConn returns the connection the guard reads from.
func (c *conn) NetConn() net.Conn { return c.Conn }

// Write, SetWriteDeadline, SetDeadline and Close go through the writer,
// if any; they may be called concurrently with Read and with each other.
func (c *conn) Write(p []byte) (int, error) {
	if c.wr == nil {
		return c.Conn.Write(p)
	}
	return c.wr.Write(p)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	if c.wr == nil {
		return c.Conn.SetWriteDeadline(t)
	}
	return c.wr.SetWriteDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	if c.wr == nil {
		return c.Conn.SetDeadline(t)
	}
	c.wr.SetWriteDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) Close() error {
	if c.wr == nil {
		return c.Conn.Close()
	}
	return c.wr.Close()
}

func (c *conn) Read(p []byte) (int, error) {
	for {
		switch {
		case len(c.out) > 0:
			n := copy(p, c.out)
			c.out = c.out[n:]
			if len(c.out) == 0 {
				c.out, c.tail = c.tail, nil
			}
			return n, nil
		case c.killed:
			return c.drain()
		case c.pass > 0 || c.off:
			return c.forward(p)
		}
		if err := c.next(); err != nil {
			return 0, err
		}
	}
}

// forward gives Go the next bytes of a frame it reads unchecked (all bytes
// once the guard is off): buffered ones first, then straight from the
// network into p, with no copy and no allocation.
func (c *conn) forward(p []byte) (int, error) {
	if !c.off && len(p) > c.pass {
		p = p[:c.pass]
	}
	var n int
	var err error
	if c.r < c.w {
		n = copy(p, c.buf[c.r:c.w])
		c.r += n
	} else {
		n, err = c.Conn.Read(p)
	}
	c.pass -= n
	return n, err
}

// drain reads and drops the client's bytes until Go, having sent GOAWAY,
// closes the connection. (Returning an error at once could make Go close
// the connection before its GOAWAY is written.)
func (c *conn) drain() (int, error) {
	for {
		if _, err := c.Conn.Read(c.buf); err != nil {
			return 0, err
		}
	}
}

// fill makes buf[r:w] hold at least n bytes.
func (c *conn) fill(n int) error {
	if c.w-c.r >= n {
		return nil
	}
	if n > len(c.buf) {
		b := make([]byte, max(n, 2*len(c.buf)))
		c.w = copy(b, c.buf[c.r:c.w])
		c.r, c.buf = 0, b
	} else if c.r+n > len(c.buf) {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	for c.w-c.r < n {
		m, err := c.Conn.Read(c.buf[c.w:])
		c.w += m
		if err != nil && c.w-c.r < n {
			return err
		}
	}
	return nil
}

// next reads the next frame header and decides how Go gets the frame.
func (c *conn) next() error {
	if c.preface {
		if err := c.fill(len(clientPreface)); err != nil {
			return err
		}
		if string(c.buf[c.r:c.r+len(clientPreface)]) != clientPreface {
			return errPreface // Go closes the connection
		}
		c.r += len(clientPreface)
		c.preface = false
	}
	if err := c.fill(headerLen); err != nil {
		return err
	}
	h := c.buf[c.r : c.r+headerLen]
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	typ, flags := h[3], h[4]
	stream := binary.BigEndian.Uint32(h[5:]) & (1<<31 - 1)

	if c.block != 0 && (typ != frameContinuation || stream != c.block) {
		c.off = true // Go: connection error PROTOCOL_ERROR (§6.10)
		return nil
	}
	switch typ {
	case frameHeaders, frameContinuation, frameSettings:
	case frameRSTStream, framePing:
		// RST_STREAM defines no flags: one it carries anyway is ignored
		// (RFC 9113 §4.1), and must not spare the frame its token.
		if (typ == frameRSTStream || flags&flagAck == 0) && !c.spend() {
			c.kill()
			return nil
		}
		fallthrough
	default:
		c.pass = headerLen + length
		return nil
	}
	if length > c.cfg.maxFrame {
		c.off = true // Go: connection error FRAME_SIZE_ERROR
		return nil
	}
	if err := c.fill(headerLen + length); err != nil {
		return err
	}
	if typ == frameSettings && flags&flagAck == 0 && !c.spend() {
		c.kill()
		return nil
	}
	frame := c.buf[c.r : c.r+headerLen+length]
	c.r += len(frame)
	c.out = frame
	switch typ {
	case frameHeaders:
		c.headers(frame, stream, flags)
	case frameContinuation:
		c.continuation(frame, stream, flags)
	case frameSettings:
		c.out = settings(frame)
	}
	return nil
}

// headers starts a header block, in the same way as Go's parseHeadersFrame.
func (c *conn) headers(frame []byte, stream uint32, flags byte) {
	if c.block != 0 || stream == 0 {
		c.off = true // Go: connection error
		return
	}
	c.block, c.conts, c.size, c.bad, c.skip = stream, 0, 0, false, false
	p := frame[headerLen:]
	pad := 0
	if flags&flagPadded != 0 {
		if len(p) < 1 {
			c.off = true
			return
		}
		pad, p = int(p[0]), p[1:]
	}
	if flags&flagPriority != 0 {
		if len(p) < 5 {
			c.off = true
			return
		}
		p = p[5:]
	}
	if pad > len(p) {
		// Go resets the stream without decoding the block (nor its
		// CONTINUATION frames, which it then refuses).
		c.skip = true
	} else {
		c.decode(p[:len(p)-pad])
	}
	c.end(frame, flags)
}

func (c *conn) continuation(frame []byte, stream uint32, flags byte) {
	if c.block == 0 {
		c.off = true // Go: connection error PROTOCOL_ERROR
		return
	}
	c.conts++
	if c.conts > c.cfg.maxContinuations {
		c.kill() // CONTINUATION flood
		return
	}
	c.decode(frame[headerLen:])
	c.end(frame, flags)
}

// kill hands Go, instead of the current frame, one that makes it end the
// connection with GOAWAY PROTOCOL_ERROR (Go has no way to be told
// ENHANCE_YOUR_CALM from the reading side).
func (c *conn) kill() {
	c.out, c.killed = killFrame, true
}

// spend takes a token from the control-frame bucket and reports whether
// there was one. Floods of RST_STREAM (rapid reset, CVE-2023-44487), PING
// or SETTINGS make Go work for each frame, and it bounds them only when
// the answers pile up unread; a client that reads can keep a core busy.
// Real clients send a SETTINGS or two per connection, and reset streams in
// bursts (a page left) that the bucket's size allows.
func (c *conn) spend() bool {
	now := time.Now()
	if c.tokensAt.IsZero() {
		c.tokens = c.cfg.controlBurst
	} else {
		c.tokens = min(c.cfg.controlBurst, c.tokens+now.Sub(c.tokensAt).Seconds()*c.cfg.controlRate)
	}
	c.tokensAt = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

func (c *conn) decode(frag []byte) {
	if c.skip || c.off {
		return
	}
	if _, err := c.dec.Write(frag); err != nil {
		c.off = true // Go: connection error COMPRESSION_ERROR
	}
}

// end finishes the header block if frame ends it. A block with a forbidden
// field loses its END_HEADERS flag and is followed by a CONTINUATION that
// carries the poison field and the flag, so that Go resets the stream.
func (c *conn) end(frame []byte, flags byte) {
	if flags&flagEndHeaders == 0 || c.off {
		return
	}
	stream := c.block
	c.block = 0
	if c.skip {
		return
	}
	if err := c.dec.Close(); err != nil {
		c.off = true
		return
	}
	c.dec.SetEmitEnabled(true)
	if !c.bad {
		return
	}
	frame[4] &^= flagEndHeaders
	e := c.extra[:]
	e[0], e[1], e[2] = 0, 0, byte(len(poisonField))
	e[3], e[4] = frameContinuation, flagEndHeaders
	binary.BigEndian.PutUint32(e[5:], stream)
	copy(e[headerLen:], poisonField)
	c.tail = e
}

// emit sees each decoded field. Past the header list limit Go stops
// looking at fields (it answers 431), and so does the guard.
func (c *conn) emit(f hpack.HeaderField) {
	c.size += int(f.Size())
	if c.size > c.cfg.maxList {
		c.dec.SetEmitEnabled(false)
		return
	}
	if connectionSpecific(f.Name, f.Value) {
		c.bad = true
	}
}

// connectionSpecific reports whether a request field is one RFC 9113
// §8.2.2 forbids: a connection-specific field, or TE other than "trailers".
// (An empty TE is let through, as Go does.)
func connectionSpecific(name, value string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	case "te":
		return value != "trailers" && value != ""
	}
	return false
}

// settings returns the SETTINGS frame with each parameter once. RFC 9113
// §6.5.3 has the values processed in order, so a repeated parameter may
// appear; Go refuses such a frame (as a defence against floods). Keeping
// the last value of each parameter, in place, has the same effect, except
// after an invalid value: the receiver stops there with a connection error,
// so the list is cut after it and the error stays the same.
// Frames of more than 100 parameters go to Go as they are: it refuses them.
func settings(frame []byte) []byte {
	flags := frame[4]
	stream := binary.BigEndian.Uint32(frame[5:]) & (1<<31 - 1)
	p := frame[headerLen:]
	n := len(p) / 6
	if flags&flagAck != 0 || stream != 0 || len(p)%6 != 0 || n > 100 || !duplicates(p) {
		return frame
	}
	for i := 0; i < n; i++ {
		if !validSetting(binary.BigEndian.Uint16(p[6*i:]), binary.BigEndian.Uint32(p[6*i+2:])) {
			n = i + 1
			break
		}
	}
	kept := 0
	for i := 0; i < n; i++ {
		last := true
		for j := i + 1; j < n; j++ {
			if p[6*i] == p[6*j] && p[6*i+1] == p[6*j+1] {
				last = false
				break
			}
		}
		if last {
			copy(p[6*kept:6*kept+6], p[6*i:6*i+6])
			kept++
		}
	}
	length := 6 * kept
	frame[0], frame[1], frame[2] = byte(length>>16), byte(length>>8), byte(length)
	return frame[:headerLen+length]
}

func duplicates(p []byte) bool {
	for i := 0; i < len(p); i += 6 {
		for j := i + 6; j < len(p); j += 6 {
			if p[i] == p[j] && p[i+1] == p[j+1] {
				return true
			}
		}
	}
	return false
}

// validSetting is x/net/http2's Setting.Valid: the values a receiver
// refuses with a connection error.
func validSetting(id uint16, v uint32) bool {
	switch id {
	case 0x2, 0x8: // ENABLE_PUSH, ENABLE_CONNECT_PROTOCOL
		return v <= 1
	case 0x4: // INITIAL_WINDOW_SIZE
		return v <= 1<<31-1
	case 0x5: // MAX_FRAME_SIZE
		return v >= 1<<14 && v <= 1<<24-1
	}
	return true
}
