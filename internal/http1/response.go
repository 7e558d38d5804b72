package http1

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// File is a body source: its bytes are read with ReadAt, by any engine or
// protocol front. One that is also an FdFile (*os.File) may be sent with
// sendfile(2) instead. A File without a descriptor must answer ReadAt
// without blocking for long (memory, the page cache): an event loop calls
// it on the loop.
type File interface {
	ReadAt(p []byte, off int64) (int, error)
}

// FdFile is a File with a descriptor that sendfile(2) can read from.
type FdFile interface {
	File
	Fd() uintptr
}

// Part is one piece of a multipart body: Head bytes, then either Data or the
// segment [Off, Off+Len) of File.
type Part struct {
	Head []byte
	Data []byte
	File File
	Off  int64
	Len  int64
}

// Response is the plan of a response: what to send, not how. A Handler fills
// it in; an engine encodes the head with AppendHead and sends the body from
// whichever source is set: Body, the File segment, Parts, or Stream.
//
// Fixed, Body and Parts' Head/Data may be shared by many responses at once
// and are never modified. A Response is reused from one request to the next.
type Response struct {
	Status int
	Fixed  Fields // pre-rendered fields, shared
	Header Fields // fields added for this response, owned

	Body  []byte // shared, immutable body bytes
	File  File   // or a file segment
	Off   int64
	Len   int64
	Parts []Part // or a multipart body

	// Stream is, instead of the above, a body of unknown length that
	// its WriteTo produces as it is sent (see Stream). HTTP/1.1 sends it
	// chunked, HTTP/1.0 delimited by the connection's close, the other
	// protocols by their own framing.
	Stream Stream

	// Closer is released once the body has been sent or abandoned.
	Closer io.Closer
	// Close asks for the connection to be closed after this response.
	Close bool
	// Client is the client's address when the handler derived it from a
	// trusted proxy's forwarding header, for the access log; zero when
	// the peer is the client.
	Client netip.Addr
}

// Reset clears r for reuse, keeping its header and parts storage.
func (r *Response) Reset() {
	h, p := r.Header, r.Parts[:0]
	h.Reset()
	*r = Response{Header: h, Parts: p}
}

// AddHeader appends a header field. name and value must be valid field
// syntax; handlers never copy request bytes here unchecked.
func (r *Response) AddHeader(name, value string) { r.Header.Add(name, value) }

// AddHeaderBytes is AddHeader for a byte-slice value.
func (r *Response) AddHeaderBytes(name string, value []byte) { r.Header.AddBytes(name, value) }

// AddHeaderInt appends a header field with a decimal value.
func (r *Response) AddHeaderInt(name string, v int64) { r.Header.AddInt(name, v) }

// Stream is a body produced as it is sent, of a length unknown up front
// (an archive of a folder). An engine calls WriteTo at most once, on a
// goroutine that may block on disk (never an event loop), and w's Writes
// block while the client is slow: the producer must write as it goes,
// holding little, so that a body of any size costs constant memory. A
// Write that fails (the client left, the write timeout passed, the server
// is shutting down) must make WriteTo return soon after. An error from
// WriteTo cuts the response: the client sees it incomplete (HTTP/1.1: no
// last chunk, and the connection closes), never as if whole. WriteTo
// releases what it holds before returning; a Response's Closer is closed
// only after WriteTo has returned, or when it is never called (HEAD, a
// connection gone before the body began).
type Stream interface {
	WriteTo(w io.Writer) (int64, error)
}

// ContentLength is the length of the planned body; 0 for a Stream, whose
// length is unknown.
func (r *Response) ContentLength() int64 {
	switch {
	case r.File != nil:
		return r.Len
	case len(r.Parts) > 0:
		var n int64
		for i := range r.Parts {
			p := &r.Parts[i]
			n += int64(len(p.Head)) + int64(len(p.Data)) + p.Len
		}
		return n
	}
	return int64(len(r.Body))
}

// BodyAllowed reports whether a response with this status carries content
// (RFC 9110 §6.4.1): 1xx, 204 and 304 never do.
func BodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

// AppendHead appends the status line and header section of resp to dst.
// keepAlive says whether the connection stays open; minor is the request's
// HTTP minor version, which decides whether keep-alive must be announced.
// date is an IMF-fixdate from a Clock.
func AppendHead(dst []byte, resp *Response, minor int, keepAlive bool, date []byte) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendStatus(dst, resp.Status)
	dst = append(dst, "Server: weft\r\nDate: "...)
	dst = append(dst, date...)
	dst = append(dst, "\r\n"...)
	dst = append(dst, resp.Fixed.Text...)
	dst = append(dst, resp.Header.Text...)
	switch {
	case !BodyAllowed(resp.Status):
	case resp.Stream != nil:
		// HTTP/1.0 knows no chunks: the body ends with the connection,
		// which the caller closes (keepAlive is then false).
		if minor > 0 {
			dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
		}
	default:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, resp.ContentLength(), 10)
		dst = append(dst, "\r\n"...)
	}
	switch {
	case !keepAlive:
		dst = append(dst, "Connection: close\r\n"...)
	case minor == 0:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func appendStatus(dst []byte, code int) []byte {
	if code >= 100 && code < 600 {
		if t := statusText[code]; t != "" {
			dst = strconv.AppendInt(dst, int64(code), 10)
			dst = append(dst, ' ')
			dst = append(dst, t...)
			return append(dst, "\r\n"...)
		}
	}
	dst = strconv.AppendInt(dst, int64(code), 10)
	return append(dst, " Status\r\n"...)
}

// StatusText returns the reason phrase for code, or "" if unknown.
func StatusText(code int) string {
	if code < 0 || code >= len(statusText) {
		return ""
	}
	return statusText[code]
}

var statusText = [600]string{
	100: "Continue",
	200: "OK",
	201: "Created",
	204: "No Content",
	206: "Partial Content",
	301: "Moved Permanently",
	302: "Found",
	303: "See Other",
	304: "Not Modified",
	307: "Temporary Redirect",
	308: "Permanent Redirect",
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	408: "Request Timeout",
	409: "Conflict",
	412: "Precondition Failed",
	413: "Content Too Large",
	414: "URI Too Long",
	416: "Range Not Satisfiable",
	417: "Expectation Failed",
	421: "Misdirected Request",
	429: "Too Many Requests",
	431: "Request Header Fields Too Large",
	500: "Internal Server Error",
	501: "Not Implemented",
	503: "Service Unavailable",
	505: "HTTP Version Not Supported",
	507: "Insufficient Storage",
}

// Handler turns a Request into a Response plan. It is called by one goroutine
// per connection at a time but by many connections at once, so an
// implementation must be safe for concurrent use. It must not retain req or
// resp after returning.
type Handler interface {
	ServeHTTP1(req *Request, resp *Response)
}

// MemoryHandler is a Handler that can sometimes answer without blocking
// (from memory). An event-loop engine tries ServeFromMemory on its loop and
// hands the request to a worker's ServeHTTP1 only when it returns false; a
// false return leaves resp untouched.
type MemoryHandler interface {
	Handler
	ServeFromMemory(req *Request, resp *Response) bool
}

// BodyHandler is a Handler that reads the bodies of some requests
// (uploads). For a request that has a body, the connection first asks
// BodyLimit, which must decide from Method, Host and Path alone (the
// fields every protocol has before its body arrives). A positive limit is
// the most body bytes the handler may read: the connection then sets
// req.Body, applies this limit instead of its own (a larger
// Content-Length is refused with 413 before the handler runs; a body that
// grows past it fails with ErrBodyTooLarge), and answers Expect:
// 100-continue when the handler first reads. Zero leaves the body to the
// connection, which reads and drops it, as for any Handler. A body the
// handler leaves unread closes the connection after the answer.
type BodyHandler interface {
	Handler
	BodyLimit(req *Request) int64
}

// Clock caches the Date header value for the current second. It is not safe
// for concurrent use: each connection or event loop owns one.
type Clock struct {
	sec int64
	buf []byte
}

// Date returns now as an IMF-fixdate (RFC 9110 §5.6.7). The slice is reused
// on the next second's call.
func (c *Clock) Date(now time.Time) []byte {
	if s := now.Unix(); s != c.sec || c.buf == nil {
		c.sec = s
		c.buf = AppendDate(c.buf[:0], now)
	}
	return c.buf
}

// AppendDate appends t as an IMF-fixdate.
func AppendDate(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, TimeFormat)
}

// TimeFormat is the IMF-fixdate layout.
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// ParseDate parses an HTTP date in any of the three formats of RFC 9110 §5.6.7.
func ParseDate(b []byte) (time.Time, bool) {
	s := string(b)
	for _, layout := range [...]string{TimeFormat, "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Record describes one answered request, for access logs and metrics. It
// is made once the response is complete (its last byte handed to the
// kernel) or aborted (the client left, a timeout, a shutdown), so that it
// tells what was actually sent. Its byte slices are views valid only
// during the call that receives it.
type Record struct {
	Remote    netip.AddrPort // the peer, or the client a trusted proxy forwarded for (port 0; see Response.Client)
	Time      time.Time      // when the response was complete or aborted
	Method    []byte
	Target    []byte
	Host      []byte // the request's host (absolute-form target or Host field), as received
	Major     int
	Minor     int
	Status    int
	Bytes     int64         // body bytes sent, as nginx's $body_bytes_sent: less than planned when the client left early; 0 for HEAD and 304; a chunked body's framing counts
	Sent      int64         // every byte sent, head included, as nginx's $bytes_sent (over HTTP/2 and HTTP/3, whose heads are compressed by the protocol, the body's)
	Duration  time.Duration // from the request's first byte (its arrival, over HTTP/2 and HTTP/3) to Time
	Referer   []byte
	UserAgent []byte
	// Headers are the request's header fields, for a sink that logs
	// any (see HeaderSink); HTTP/1 connections fill them only for one.
	Headers []Header
}

// HeaderSink is implemented by a record sink that needs Record.Headers
// (an access log template naming $http_ variables); a connection copies
// them only for one that says so.
type HeaderSink interface {
	WantsHeaders() bool
}

// ErrFileCut is the error of CopySegment when its file ended or failed
// before the segment did: the response must be cut, never padded or left
// short as if complete.
var ErrFileCut = errors.New("weft: file shrank or failed while sent")

var segmentBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// CopySegment copies [off, off+n) of f to w in pieces of 32 KiB, for the
// protocols that write bodies through an io.Writer (HTTP/2, HTTP/3). It
// returns w's error, or one wrapping ErrFileCut when f gave less.
func CopySegment(w io.Writer, f File, off, n int64) error {
	bp := segmentBufs.Get().(*[]byte)
	defer segmentBufs.Put(bp)
	buf := *bp
	for n > 0 {
		m, err := f.ReadAt(buf[:min(int64(len(buf)), n)], off)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return werr
			}
			off += int64(m)
			n -= int64(m)
		}
		if err != nil && n > 0 {
			return fmt.Errorf("%w: %w", ErrFileCut, err)
		}
	}
	return nil
}
