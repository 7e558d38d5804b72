// Package engine defines how weft's concurrency models plug in: the Engine
// interface, the limits every engine honours, and Conn, the per-connection
// protocol state (read → parse → handle → queue → write) that all engines
// share, so that each engine only decides how sockets are multiplexed.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Engine serves HTTP/1.1 connections accepted from a listener.
type Engine interface {
	// Serve accepts connections from ln and serves them with cfg.Handler
	// until ctx is done. Then it stops accepting, lets in-flight responses
	// finish, closes idle connections, and returns once every connection
	// is gone or cfg.ShutdownTimeout has passed (then it closes the rest).
	// It closes ln before returning. Every engine today needs a TCP
	// listener (see TCPListener); the interface takes any, for the
	// listeners that come next (unix sockets, TLS, socket activation).
	Serve(ctx context.Context, ln net.Listener, cfg *Config) error
}

// RecordSink receives one record per response, for access logs and
// metrics. Log is called from many connections at once and must not retain
// rec or its byte slices.
type RecordSink interface {
	Log(rec *http1.Record)
}

// Config is what every engine honours.
type Config struct {
	Handler http1.Handler
	Limits  http1.Limits

	ReadHeaderTimeout time.Duration // from a request's first byte to its complete head
	IdleTimeout       time.Duration // between requests on a kept-alive connection
	WriteTimeout      time.Duration // longest wait for the client to accept more bytes
	ShutdownTimeout   time.Duration // longest graceful drain before connections are cut
	MaxConns          int           // most open connections; at the limit idle ones are reclaimed (see each engine for the rest)
	MaxBodyBytes      int64         // request bodies up to this are read and dropped; beyond, 413 (Content-Length) or a close (chunked)

	Log      RecordSink   // nil for none
	ErrorLog *slog.Logger // nil for slog.Default()
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
	return &c
}

// ErrUnsupported is returned by engines that do not exist on this OS.
var ErrUnsupported = errors.New("weft: engine not supported on this platform")

// Unsupported is the Serve of an engine that does not exist on this OS: it
// closes ln, as Serve must, and returns ErrUnsupported.
func Unsupported(ln net.Listener) error {
	ln.Close()
	return ErrUnsupported
}

// ErrNotTCP is returned by an engine given a listener it cannot serve.
var ErrNotTCP = errors.New("weft: this engine needs a TCP listener")

// TCPListener returns ln as the TCP listener an engine needs (to reach its
// descriptor, set socket options, or accept *net.TCPConn), or, closing ln
// as Serve must, ErrNotTCP.
func TCPListener(ln net.Listener) (*net.TCPListener, error) {
	if tl, ok := ln.(*net.TCPListener); ok {
		return tl, nil
	}
	ln.Close()
	return nil, ErrNotTCP
}

// ErrWouldBlock is returned by a non-blocking Sink that cannot take more
// bytes now; the engine resumes the flush when the socket is writable.
var ErrWouldBlock = errors.New("weft: write would block")
