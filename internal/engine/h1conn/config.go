package h1conn

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// RecordSink receives one record per response, for access logs and
// metrics, once the response is complete or aborted (see record.go). Log
// is called from many connections at once and must not retain rec or its
// byte slices. A sink that implements http1.HeaderSink and wants them gets
// the request's header fields too.
type RecordSink interface {
	Log(rec *http1.Record)
}

// Meter counts what one connection does, for metrics (see package
// metrics). Its methods are called only by the goroutine driving the
// connection, a few times per request: they must not allocate, block, or
// write memory that another event loop writes (see Config.Meters).
type Meter interface {
	RecordSink        // one record per answered request, as the access log's
	Opened()          // the connection was accepted
	Closed()          // the connection was released
	Idle(idle bool)   // the connection began (true) or stopped (false) waiting between requests
	SentFile(n int64) // n bytes of a file went out with SendFile
}

// Config is what a connection and the engine that serves it honour.
type Config struct {
	Handler http1.Handler
	Limits  http1.Limits

	ReadHeaderTimeout time.Duration // from a request's first byte to its complete head
	IdleTimeout       time.Duration // between requests on a kept-alive connection
	WriteTimeout      time.Duration // longest wait for the client to accept more bytes
	ShutdownTimeout   time.Duration // longest graceful drain before connections are cut
	MaxConns          int           // most open connections; at the limit idle ones are reclaimed (see each engine for the rest)
	MaxBodyBytes      int64         // request bodies up to this are read and dropped; beyond, 413 (Content-Length) or a close (chunked); a body the handler takes (http1.BodyHandler; see SetBodyOffload for event loops) has the handler's limit instead

	// AltSvc, when set, is an Alt-Svc field value added to the answers a
	// connection over TLS writes itself (400, 413, 414, 431, 505: a
	// request the handler never saw), as the handler adds it to its own.
	AltSvc string

	Log RecordSink // nil for none
	// Meters returns the counters a new connection adds to (nil for
	// none). An engine with event loops passes its loop's index (see
	// NewOnLoop), so that loops share no counter; others pass -1.
	Meters   func(loop int) Meter
	ErrorLog *slog.Logger // nil for slog.Default()

	// Open, when set, counts the open connections: New adds one, and
	// the connection's release takes it away. The server reads it to say
	// what a graceful shutdown waits for.
	Open *atomic.Int64

	logHeaders bool // Log wants Record.Headers (see http1.HeaderSink)
}

// Defaults for the zero fields of Config.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultMaxConns          = 10000
	DefaultMaxBodyBytes      = 64 << 10
)

// WithDefaults returns a copy of c with zero fields set to the defaults.
func (c Config) WithDefaults() *Config {
	c.Limits = c.Limits.WithDefaults()
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxBodyBytes < 0 {
		c.MaxBodyBytes = 0
	} else if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ErrorLog == nil {
		c.ErrorLog = slog.Default()
	}
	if hs, ok := c.Log.(http1.HeaderSink); ok {
		c.logHeaders = hs.WantsHeaders()
	}
	return &c
}

// ErrWouldBlock is returned by a non-blocking Sink that cannot take more
// bytes now; the engine resumes the flush when the socket is writable.
var ErrWouldBlock = errors.New("weft: write would block")
