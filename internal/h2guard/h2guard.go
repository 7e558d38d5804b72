// Package h2guard hardens net/http's built-in HTTP/2 server.
//
// [Configure] sets the limits a demanding operator expects (streams, header
// list, frame size, flow-control windows, HPACK tables, timeouts).
// [Install] puts a small guard in front of every HTTP/2 connection, over TLS
// and over h2c: it reads the client's frames before Go's server does and
// fixes the few places where Go's answer is not the one RFC 9113 asks for,
// without ever writing to the client itself:
//
//   - a request with a connection-specific header field or a TE other than
//     "trailers" (RFC 9113 §8.2.2) is malformed and must be refused with a
//     stream error of type PROTOCOL_ERROR; Go answers 400 instead. The guard
//     decodes every header block with a mirrored HPACK decoder and, for such
//     a request, appends one field with an invalid value in a CONTINUATION
//     frame of its own, so that Go resets the stream with PROTOCOL_ERROR.
//     Both decoders see the same bytes in the same order, so HPACK state
//     stays in sync: the appended field is a literal without indexing.
//   - a SETTINGS frame may repeat a parameter (§6.5.3: values are processed
//     in order); Go hangs up on duplicates. The guard rewrites the frame so
//     that each parameter appears once, with the value it would end with.
//   - a header block may not be spread over an endless run of CONTINUATION
//     frames (CVE-2024-27316 class); Go bounds the bytes but not the number
//     of frames. The guard ends the connection (Go sends GOAWAY).
//   - floods of RST_STREAM (rapid reset), PING or SETTINGS: Go bounds them
//     only when its answers pile up unread. The guard rate-limits them per
//     connection and ends a connection that goes past the limit.
//
// Everything else, DATA in particular, is handed to Go as it arrives.
//
// On the way out, the guard gathers Go's writes: Go flushes whenever its
// queue of frames runs dry, which with a goroutine per stream is after
// nearly every response, and each flush would be a TLS record and a
// write(2) of its own. The guard buffers them and writes them out together
// once the goroutines that are runnable have run (see writer), with no
// timer, keeping Go's WriteByteTimeout. (WEFT_TEST_H2_NO_COALESCE=1, for
// benchmarks and tests, turns this off.)
package h2guard

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// Limits are the HTTP/2 limits of a server. The zero value of a field means
// its default (see [DefaultLimits]).
type Limits struct {
	// MaxConcurrentStreams is the number of streams a client may have open
	// at once (SETTINGS_MAX_CONCURRENT_STREAMS).
	MaxConcurrentStreams int
	// MaxHeaderListSize bounds the decoded size of a request's header list
	// (RFC 9113 §6.5.2: names, values and 32 bytes per field). It also
	// becomes http.Server.MaxHeaderBytes, which bounds HTTP/1 headers.
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
	// ControlBurst; past that the connection is ended (GOAWAY).
	ControlRate  int
	ControlBurst int
	// IdleTimeout closes a connection without streams after this long; it
	// becomes http.Server.IdleTimeout, shared with HTTP/1.
	IdleTimeout time.Duration
	// WriteByteTimeout closes a connection whose client has not taken any
	// byte for this long while the server had something to write.
	WriteByteTimeout time.Duration
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	MaxConcurrentStreams: 128,
	MaxHeaderListSize:    64 << 10,
	// 16384 is the RFC 9113 initial value: a client may not send larger
	// frames before it has read our SETTINGS anyway, nothing a static
	// server receives needs more, and it keeps a header-carrying frame
	// small enough to inspect whole.
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
	return l
}

// Configure sets srv.HTTP2, srv.MaxHeaderBytes and srv.IdleTimeout from lim
// (zero fields take their default). It does not choose the protocols: set
// srv.Protocols for HTTP/2 over TLS and, if wanted, unencrypted HTTP/2.
func Configure(srv *http.Server, lim Limits) {
	lim = lim.withDefaults()
	srv.HTTP2 = &http.HTTP2Config{
		MaxConcurrentStreams:          lim.MaxConcurrentStreams,
		MaxDecoderHeaderTableSize:     lim.DecoderTableSize,
		MaxEncoderHeaderTableSize:     lim.EncoderTableSize,
		MaxReadFrameSize:              lim.MaxReadFrameSize,
		MaxReceiveBufferPerConnection: lim.ConnWindow,
		MaxReceiveBufferPerStream:     lim.StreamWindow,
		WriteByteTimeout:              lim.WriteByteTimeout,
	}
	srv.MaxHeaderBytes = lim.MaxHeaderListSize
	srv.IdleTimeout = lim.IdleTimeout
}

// The keys net/http uses in Server.TLSNextProto: "h2" for HTTP/2 over TLS,
// and an internal key for h2c connections whose preface has been read.
const (
	protoTLS         = "h2"
	protoUnencrypted = "unencrypted_http2"
)

// errSetup ends the Serve call Install makes to run net/http's HTTP/2 setup.
var errSetup = errors.New("h2guard: setup")

// Install puts the guard in front of every HTTP/2 connection srv serves,
// over TLS and h2c alike. Call it after [Configure] (the guard reads the
// frame, HPACK and header limits from srv, so that it reads frames as Go
// does; of lim it uses MaxContinuations and the control-frame rate) and
// before srv serves; srv.TLSConfig,
// if set, must not have been handed to a listener yet.
//
// net/http sets up HTTP/2 once, when it first serves, by filling
// srv.TLSNextProto. Install makes that happen now (a Serve call on a
// listener that fails at once) and wraps both entries: each connection is
// given to Go's HTTP/2 server through the guard, as a plain connection that
// still reports its TLS state, so Request.TLS is set as before.
func Install(srv *http.Server, lim Limits) error {
	lim = lim.withDefaults()
	if srv.TLSConfig != nil && !contains(srv.TLSConfig.NextProtos, protoTLS) {
		// net/http configures HTTP/2 for a TLSConfig only if it lists h2.
		srv.TLSConfig.NextProtos = append(srv.TLSConfig.NextProtos, protoTLS, "http/1.1")
	}
	if err := srv.Serve(failListener{}); !errors.Is(err, errSetup) {
		return err
	}
	serve := srv.TLSNextProto[protoUnencrypted]
	if serve == nil || srv.TLSNextProto[protoTLS] == nil {
		return errors.New("h2guard: HTTP/2 is not enabled on this server")
	}
	var cfg config
	cfg.maxFrame = DefaultLimits.MaxReadFrameSize
	if h := srv.HTTP2; h != nil && h.MaxReadFrameSize >= 16384 && h.MaxReadFrameSize < 1<<24 {
		cfg.maxFrame = h.MaxReadFrameSize
	}
	cfg.tableSize = 4096
	if h := srv.HTTP2; h != nil && h.MaxDecoderHeaderTableSize > 0 && h.MaxDecoderHeaderTableSize < 4<<20 {
		cfg.tableSize = uint32(h.MaxDecoderHeaderTableSize)
	}
	cfg.maxList = http.DefaultMaxHeaderBytes
	if srv.MaxHeaderBytes > 0 {
		cfg.maxList = srv.MaxHeaderBytes
	}
	cfg.maxList += 10 * 32 // net/http's slack (http2adjustHTTP1MaxHeaderSize)
	cfg.maxContinuations = lim.MaxContinuations
	cfg.controlRate, cfg.controlBurst = float64(lim.ControlRate), float64(lim.ControlBurst)
	// A switch for benchmarks and tests only: Go's writes as they come.
	cfg.coalesce = os.Getenv("WEFT_TEST_H2_NO_COALESCE") != "1"
	if h := srv.HTTP2; h != nil {
		cfg.writeTimeout = h.WriteByteTimeout
	}

	srv.TLSNextProto[protoTLS] = func(hs *http.Server, tc *tls.Conn, h http.Handler) {
		g := newConn(tc, &cfg, true)
		g.tls = tc.ConnectionState()
		serve(hs, handoff(tlsConn{g}), h)
	}
	srv.TLSNextProto[protoUnencrypted] = func(hs *http.Server, tc *tls.Conn, h http.Handler) {
		u, ok := tc.NetConn().(unencrypted)
		if !ok { // not a handoff from net/http: let it refuse the conn
			serve(hs, tc, h)
			return
		}
		serve(hs, handoff(newConn(u.UnencryptedNetConn(), &cfg, false)), h)
	}
	return nil
}

// unencrypted is how net/http hands a plain connection to a TLSNextProto
// function: a *tls.Conn that is never used for TLS, around a net.Conn with
// this method.
type unencrypted interface{ UnencryptedNetConn() net.Conn }

// handoffConn carries c through a *tls.Conn the same way.
type handoffConn struct {
	net.Conn // nil: never used
	c        net.Conn
}

func (h handoffConn) UnencryptedNetConn() net.Conn { return h.c }

func handoff(c net.Conn) *tls.Conn { return tls.Client(handoffConn{c: c}, nil) }

// tlsConn is a guarded TLS connection: ConnectionState makes net/http set
// Request.TLS and check the TLS version and cipher as it does for h2.
type tlsConn struct{ *conn }

func (c tlsConn) ConnectionState() tls.ConnectionState { return c.tls }

// failListener fails its first Accept, which ends Serve after setup.
type failListener struct{}

func (failListener) Accept() (net.Conn, error) { return nil, errSetup }
func (failListener) Close() error              { return nil }
func (failListener) Addr() net.Addr            { return &net.TCPAddr{} }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ConsumeBody returns a handler that, for an HTTP/2 request with a body,
// reads and drops up to max bytes of it before calling h.
//
// A static server answers without reading request bodies, and Go's server
// then ends the stream at once (END_STREAM, then RST_STREAM NO_ERROR,
// which RFC 9113 §8.1 allows) and ignores what the client sends on it
// afterwards. The client's later frames are then never checked: DATA beyond
// the declared content-length (§8.1.1, h2spec 8.1.2.6) or a WINDOW_UPDATE
// that overflows the stream's window (§6.9.1, h2spec 6.9.1/3) get
// RST_STREAM NO_ERROR or STREAM_CLOSED instead of the PROTOCOL_ERROR or
// FLOW_CONTROL_ERROR they call for, depending on whether the handler or
// the frame wins the race. Reading the body first makes Go see those frames
// while the stream is open. Requests without a body (END_STREAM on
// HEADERS) are not delayed.
func ConsumeBody(h http.Handler, max int64) http.Handler {
	return ConsumeBodyUnless(h, max, nil)
}

// ConsumeBodyUnless is ConsumeBody but for the requests whose bodies h
// reads itself (uploads): takes reports them; nil for none.
func ConsumeBodyUnless(h http.Handler, max int64, takes func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && r.Body != nil && r.Body != http.NoBody && (takes == nil || !takes(r)) {
			io.CopyN(io.Discard, r.Body, max)
		}
		h.ServeHTTP(w, r)
	})
}
