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
)

// Front accepts the connections of one TCP listener and sorts them: with
// TLS, it completes each handshake (on a goroutine of its own, within
// HandshakeTimeout, so that a slow or silent client holds no one up) and
// hands the connection to HTTP/2 when ALPN chose "h2", else to HTTP/1.1;
// without TLS but with cleartext HTTP/2 allowed, it reads the first bytes
// and hands a connection that opens with the HTTP/2 preface (RFC 9113
// §3.3, prior knowledge) to HTTP/2.
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
}

// FrontOptions configure a Front.
type FrontOptions struct {
	TLS              *tls.Config // nil: cleartext
	H2C              bool        // cleartext HTTP/2 by prior knowledge
	HandshakeTimeout time.Duration
	MaxPending       int // connections in their handshake or preface at once (more wait in the backlog)
	Log              *slog.Logger
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
		slots: make(chan struct{}, o.MaxPending),
		h1:    newChanListener(ln.Addr()), h2: newChanListener(ln.Addr()),
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
	for n < len(preface) && bytes.Equal(buf[:n], preface[:n]) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			if n == 0 || !errors.Is(err, io.EOF) {
				c.Close()
				return
			}
			break
		}
	}
	if !stop() {
		c.Close() // shutting down; the deadline may be set after our reset
		return
	}
	c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, peeked: buf[:n:n]}
	if n == len(preface) && bytes.Equal(buf[:], preface) {
		f.h2.give(pc)
	} else {
		f.h1.give(pc)
	}
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
