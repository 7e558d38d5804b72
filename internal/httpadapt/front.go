package httpadapt

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Front accepts the connections of one TCP listener and sorts them: with
// TLS, it completes each handshake (on a goroutine of its own, within
// HandshakeTimeout, so that a slow or silent client holds no one up) and
// hands the connection to HTTP/2 when ALPN chose "h2", else to HTTP/1.1;
// without TLS but with cleartext HTTP/2 allowed, it reads the first bytes
// and hands a connection that opens with the HTTP/2 preface (RFC 9113
// §3.3, prior knowledge) to HTTP/2, and, with Upgrade set, reads the
// head of any other and hands one that asks for h2c (RFC 7540 §3.2) to
// Upgrade.
//
// HTTP/1.1 connections come out of H1 (a net.Listener for an engine that
// serves any net.Conn), HTTP/2 ones out of H2 (for internal/h2's server; a
// TLS connection is the *tls.Conn itself, its handshake done).
type Front struct {
	ln               net.Listener
	tls              *tls.Config // nil for cleartext
	h2c              bool        // cleartext: sort out the HTTP/2 preface
	handshakeTimeout time.Duration
	log              *slog.Logger
	slots            chan struct{} // connections being sorted
	h1, h2           *chanListener
	wg               sync.WaitGroup
	upgrade          func(nc net.Conn, head, settings []byte) bool
	headLimits       http1.Limits
}

// FrontOptions configure a Front.
type FrontOptions struct {
	TLS              *tls.Config // nil: cleartext
	H2C              bool        // cleartext HTTP/2 by prior knowledge
	HandshakeTimeout time.Duration
	MaxPending       int // connections in their handshake or preface at once (more wait in the backlog)
	Log              *slog.Logger
	// Upgrade, with H2C, takes a cleartext connection whose first
	// request asks to switch to HTTP/2 (RFC 7540 §3.2; see
	// h2.Server.Upgrade): head is the request's head, settings its
	// HTTP2-Settings value, and nc reads on after the head. It reports
	// false, having written nothing, to leave the request to HTTP/1.1.
	// Nil: no upgrade, the request goes to HTTP/1.1.
	Upgrade func(nc net.Conn, head, settings []byte) bool
	// HeadLimits bound the head read to look for an upgrade, as
	// HTTP/1.1 bounds it (http1.DefaultLimits for zero fields).
	HeadLimits http1.Limits
}

// NewFront sorts the connections of ln.
func NewFront(ln net.Listener, o FrontOptions) *Front {
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 1024
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Front{
		ln: ln, tls: o.TLS, h2c: o.H2C, handshakeTimeout: o.HandshakeTimeout, log: o.Log,
		slots: make(chan struct{}, o.MaxPending), upgrade: o.Upgrade, headLimits: o.HeadLimits.WithDefaults(),
		h1: newChanListener(ln.Addr()), h2: newChanListener(ln.Addr()),
	}
}

// H1 is the listener of the HTTP/1.1 connections.
func (f *Front) H1() net.Listener { return f.h1 }

// H2 is the listener of the HTTP/2 connections.
func (f *Front) H2() net.Listener { return f.h2 }

// Run accepts until ctx is done or the listener fails, then closes the
// listener, waits for the connections being sorted (each within its
// timeout), and closes H1 and H2.
func (f *Front) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { f.ln.Close() })
	defer stop()
	defer func() {
		f.wg.Wait()
		f.h1.Close()
		f.h2.Close()
	}()
	var delay time.Duration
	for {
		select {
		case f.slots <- struct{}{}:
		case <-ctx.Done():
			f.ln.Close()
			return nil
		}
		c, err := f.ln.Accept()
		if err != nil {
			<-f.slots
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			delay = min(max(delay*2, 5*time.Millisecond), time.Second)
			f.log.Warn("accept failed; retrying", "err", err, "delay", delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		delay = 0
		f.wg.Add(1)
		go f.sort(ctx, c)
	}
}

// sort hands c to HTTP/1.1 or HTTP/2.
func (f *Front) sort(ctx context.Context, c net.Conn) {
	defer f.wg.Done()
	defer func() { <-f.slots }()
	deadline := time.Now().Add(f.handshakeTimeout)
	if f.tls != nil {
		tc := tls.Server(c, f.tls)
		hctx, cancel := context.WithDeadline(ctx, deadline)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.Close()
			return
		}
		switch tc.ConnectionState().NegotiatedProtocol {
		case "h2":
			f.h2.give(tc)
		case "acme-tls/1":
			tc.Close() // a TLS-ALPN-01 validation: the handshake was all (RFC 8737 §3)
		default:
			f.h1.give(tc)
		}
		return
	}
	if !f.h2c {
		f.h1.give(c)
		return
	}
	// Cleartext: read until the bytes leave the HTTP/2 preface or match
	// all of it. An HTTP/1 request differs from it by its fourth byte at
	// the latest ("PRI " is no method a client sends over HTTP/1).
	c.SetReadDeadline(deadline)
	// The context's end cuts the read too, as it cuts a TLS handshake.
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	var buf [len(prefaceText)]byte
	n := 0
	eof := false
	for n < len(preface) && bytes.Equal(buf[:n], preface[:n]) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			if n == 0 || !errors.Is(err, io.EOF) {
				c.Close()
				return
			}
			eof = true
			break
		}
	}
	isH2 := n == len(preface) && bytes.Equal(buf[:], preface)
	peeked := buf[:n:n]
	if !isH2 && !eof && f.upgrade != nil {
		// An HTTP/1 request: its head, within the same deadline, to see
		// whether it asks for h2c.
		var ok bool
		if peeked, ok = f.readHead(c, append(make([]byte, 0, 1024), peeked...)); !ok {
			c.Close()
			return
		}
	}
	if !stop() {
		c.Close() // shutting down; the deadline may be set after our reset
		return
	}
	c.SetReadDeadline(time.Time{})
	switch {
	case isH2:
		f.h2.give(&peekedConn{Conn: c, peeked: peeked})
	case f.upgrade != nil && f.tryUpgrade(c, peeked):
	default:
		f.h1.give(&peekedConn{Conn: c, peeked: peeked})
	}
}

// readHead reads into b until it holds a whole request head, reaches the
// head limit or the client stops sending (false on an error other than
// EOF: the deadline passed).
func (f *Front) readHead(c net.Conn, b []byte) ([]byte, bool) {
	for http1.HeadLength(b, 0) < 0 && len(b) < f.headLimits.MaxHeadBytes {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := c.Read(b[len(b):min(cap(b), f.headLimits.MaxHeadBytes)])
		b = b[:len(b)+m]
		if err != nil {
			return b, errors.Is(err, io.EOF)
		}
	}
	return b, true
}

// tryUpgrade hands c to Upgrade when b starts with the head of a request
// that asks for h2c (RFC 7540 §3.2): HTTP/1.1, "Upgrade: h2c",
// "Connection: Upgrade, HTTP2-Settings", exactly one HTTP2-Settings field
// and no body. A request with a body is not upgraded (as nginx and h2o
// do): it is served over HTTP/1.1, as is any other.
func (f *Front) tryUpgrade(c net.Conn, b []byte) bool {
	n := http1.HeadLength(b, 0)
	if n < 0 {
		return false
	}
	var r http1.Request
	if r.ParseHead(b[:n], f.headLimits) != nil || r.Major != 1 || r.Minor != 1 || r.HasBody() {
		return false
	}
	var up, connUp, connSettings bool
	var settings []byte
	count := 0
	for _, h := range r.Headers {
		switch {
		case http1.EqualFold(h.Name, "upgrade"):
			up = up || http1.HasToken(h.Value, "h2c")
		case http1.EqualFold(h.Name, "connection"):
			connUp = connUp || http1.HasToken(h.Value, "upgrade")
			connSettings = connSettings || http1.HasToken(h.Value, "http2-settings")
		case http1.EqualFold(h.Name, "http2-settings"):
			settings = h.Value
			count++
		}
	}
	if !up || !connUp || !connSettings || count != 1 {
		return false
	}
	return f.upgrade(&peekedConn{Conn: c, peeked: b[n:]}, b[:n:n], settings)
}

const prefaceText = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

var preface = []byte(prefaceText)

// peekedConn is a conn whose first bytes were read already: they are read
// again first.
type peekedConn struct {
	net.Conn
	peeked []byte
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if len(c.peeked) > 0 {
		n := copy(p, c.peeked)
		c.peeked = c.peeked[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite sends the FIN of a TCP conn.
func (c *peekedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// chanListener is a net.Listener fed connections by a Front.
type chanListener struct {
	addr      net.Addr
	ch        chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c to whoever accepts, or closes it once the listener is
// closed.
func (l *chanListener) give(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case <-l.done: // closed wins over a connection still waiting
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
