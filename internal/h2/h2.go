// Package h2 is weft's HTTP/2 server (RFC 9113) in front of the site
// core's http1.Handler, for connections over TLS (ALPN "h2") and
// cleartext ones by prior knowledge (h2c) or switched from HTTP/1.1 by
// Upgrade: h2c (see Server.Upgrade).
//
// It reads frames with golang.org/x/net/http2's Framer and header blocks
// with its hpack package; the rest (stream states, flow control, limits,
// defences, answers) is here. One goroutine per connection reads frames
// through a buffered reader and answers each request it can from the
// site's memory (http1.MemoryHandler) on the spot: HEADERS and DATA are
// encoded into the connection's buffered writer, which is flushed once
// the whole frames read so far have been handled (before a read that could
// block), so that a batch of requests costs one write. A request the memory cannot answer (a file not cached,
// a stream, an upload) or whose body does not fit the flow-control windows
// is handed to a goroutine of its own, which writes under the same lock,
// waiting for window as the client grants it.
//
// Defences: concurrent streams, header list size (HPACK bombs end as
// 431), frame size, the number of CONTINUATION frames per header block,
// a rate limit on RST_STREAM (rapid reset, CVE-2023-44487), PING and
// SETTINGS frames, a cap on handlers still running for streams the
// client reset, a write timeout for clients that stop reading, and idle
// and preface timeouts.
package h2

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Limits are the HTTP/2 limits of a server. The zero value of a field means
// its default (see [DefaultLimits]).
type Limits struct {
	// MaxConcurrentStreams is the number of streams a client may have open
	// at once (SETTINGS_MAX_CONCURRENT_STREAMS).
	MaxConcurrentStreams int
	// MaxHeaderListSize bounds the decoded size of a request's header list
	// (RFC 9113 §6.5.2: names, values and 32 bytes per field); a larger
	// request is answered 431.
	MaxHeaderListSize int
	// MaxReadFrameSize is the largest frame a client may send
	// (SETTINGS_MAX_FRAME_SIZE), between 16384 and 16777215.
	MaxReadFrameSize int
	// StreamWindow and ConnWindow are the flow-control windows granted for
	// request bodies, per stream and per connection.
	StreamWindow int
	ConnWindow   int
	// DecoderTableSize is the HPACK table the client may fill
	// (SETTINGS_HEADER_TABLE_SIZE); EncoderTableSize caps the one the
	// server uses for responses.
	DecoderTableSize int
	EncoderTableSize int
	// MaxContinuations is the number of CONTINUATION frames one header
	// block may use before the connection is ended.
	MaxContinuations int
	// ControlRate is the number of RST_STREAM, PING and SETTINGS frames
	// per second a client may send on average, in bursts of up to
	// ControlBurst; past that the connection is ended (GOAWAY
	// ENHANCE_YOUR_CALM).
	ControlRate  int
	ControlBurst int
	// IdleTimeout closes a connection without streams after this long.
	IdleTimeout time.Duration
	// WriteByteTimeout closes a connection whose client has not taken any
	// byte for this long while the server had something to write, and
	// resets a stream the client grants no flow-control window for this
	// long while its answer waits for it.
	WriteByteTimeout time.Duration
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	MaxConcurrentStreams: 128,
	MaxHeaderListSize:    64 << 10,
	// 16384 is the RFC 9113 initial value: a client may not send larger
	// frames before it has read our SETTINGS anyway, and nothing a static
	// server receives needs more.
	MaxReadFrameSize: 16384,
	StreamWindow:     256 << 10,
	ConnWindow:       1 << 20,
	DecoderTableSize: 4096,
	EncoderTableSize: 4096,
	// 64 frames carry at least 1 MiB at the minimum frame size; a block
	// split into more pieces than that is not written by any real client.
	MaxContinuations: 64,
	// A browser leaving a page resets its open streams at once: at most
	// MaxConcurrentStreams, far below the burst.
	ControlRate:      100,
	ControlBurst:     1000,
	IdleTimeout:      60 * time.Second,
	WriteByteTimeout: 30 * time.Second,
}

// withDefaults returns l with zero fields set to DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&l.MaxConcurrentStreams, d.MaxConcurrentStreams)
	pick(&l.MaxHeaderListSize, d.MaxHeaderListSize)
	pick(&l.MaxReadFrameSize, d.MaxReadFrameSize)
	pick(&l.StreamWindow, d.StreamWindow)
	pick(&l.ConnWindow, d.ConnWindow)
	pick(&l.DecoderTableSize, d.DecoderTableSize)
	pick(&l.EncoderTableSize, d.EncoderTableSize)
	pick(&l.MaxContinuations, d.MaxContinuations)
	pick(&l.ControlRate, d.ControlRate)
	pick(&l.ControlBurst, d.ControlBurst)
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.WriteByteTimeout <= 0 {
		l.WriteByteTimeout = d.WriteByteTimeout
	}
	l.MaxReadFrameSize = min(max(l.MaxReadFrameSize, 16384), 1<<24-1)
	l.StreamWindow = min(max(l.StreamWindow, 65535), 1<<31-1)
	l.ConnWindow = min(max(l.ConnWindow, 65535), 1<<31-1)
	return l
}

// RecordSink receives a record of each answered request (the access log,
// metrics).
type RecordSink interface {
	Log(rec *http1.Record)
}

// Server serves HTTP/2 connections with an http1.Handler. Set its fields
// before the first Serve or ServeConn; they are not changed after.
type Server struct {
	Handler      http1.Handler
	Log          RecordSink // nil for none
	MaxBodyBytes int64      // a request announcing a larger body gets 413, as over HTTP/1.1
	AltSvc       string     // an Alt-Svc value for every response ("" for none)
	// HeadLimits bound a request's head as over HTTP/1.1: 414 or 431
	// beyond (http1.DefaultLimits for zero fields).
	HeadLimits http1.Limits
	Limits     Limits
	// PrefaceTimeout bounds the wait for the client preface and its
	// first SETTINGS (10s when zero).
	PrefaceTimeout time.Duration
	ErrorLog       *slog.Logger // nil: slog.Default()

	once sync.Once
	lim  Limits
	head http1.Limits
	mh   http1.MemoryHandler
	bh   http1.BodyHandler

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup
}

// ErrServerClosed is what Serve returns once Shutdown or Close was called.
var ErrServerClosed = errors.New("weft: HTTP/2 server closed")

func (s *Server) setup() {
	s.once.Do(func() {
		s.lim = s.Limits.withDefaults()
		s.head = s.HeadLimits.WithDefaults()
		s.mh, _ = s.Handler.(http1.MemoryHandler)
		s.bh, _ = s.Handler.(http1.BodyHandler)
		if s.PrefaceTimeout <= 0 {
			s.PrefaceTimeout = 10 * time.Second
		}
		if s.ErrorLog == nil {
			s.ErrorLog = slog.Default()
		}
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
	})
}

// Serve serves the connections ln accepts, each on a goroutine of its own,
// until ln fails or the server is shut down. A *tls.Conn must have
// completed its handshake with ALPN "h2"; any other connection is
// cleartext HTTP/2 by prior knowledge. It returns ErrServerClosed after
// Shutdown or Close, nil when ln was closed by its owner.
func (s *Server) Serve(ln net.Listener) error {
	s.setup()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		go s.ServeConn(nc)
	}
}

// ServeConn serves one connection until it ends.
func (s *Server) ServeConn(nc net.Conn) {
	s.track(nc, (*conn).serve)
}

// track runs serve on a new conn of nc, counted among the server's
// connections while it runs.
func (s *Server) track(nc net.Conn, serve func(*conn)) {
	s.setup()
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	serve(c)
}

// Shutdown stops accepting, sends every connection a GOAWAY, lets the
// streams in flight finish and waits for the connections to close, or for
// ctx to end (then it returns ctx's error; Close ends what is left).
func (s *Server) Shutdown(ctx context.Context) error {
	s.setup()
	for _, c := range s.stopAccepting() {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.setup()
	for _, c := range s.stopAccepting() {
		c.nc.Close()
	}
	return nil
}

// stopAccepting closes the listeners, refuses connections from now on and
// returns those open.
func (s *Server) stopAccepting() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}
