// Package httpadapt puts the protocols that net/http-shaped servers
// implement (HTTP/3 over quic-go) in front of the same http1.Handler the
// engines serve: it builds the handler's Request view from a
// *http.Request and writes the Response plan through an
// http.ResponseWriter, so that every protocol gets the same status, fields
// and body bytes from the same site core. It also holds the front (Front)
// that hands each TLS connection to HTTP/1.1 or HTTP/2 by ALPN, and each
// cleartext one by its first bytes when h2c is on; HTTP/2 itself is
// weft's own (internal/h2).
//
// It knows nothing about files: the plan's body is bytes, a segment read
// with ReadAt, or parts.
package httpadapt

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/weft-server/weft/internal/http1"
)

// RecordSink receives a record of each answered request (the access log).
type RecordSink interface {
	Log(rec *http1.Record)
}

// Handler serves net/http requests (HTTP/3) with an http1.Handler.
type Handler struct {
	h       http1.Handler
	mh      http1.MemoryHandler // h, when it can answer from memory
	bh      http1.BodyHandler   // h, when it reads some request bodies (uploads)
	log     RecordSink
	maxBody int64
	altSvc  []string // Alt-Svc values, or nil
	lim     http1.Limits
}

// Options tune a Handler.
type Options struct {
	Log          RecordSink // nil for none
	MaxBodyBytes int64      // a request announcing a larger body gets 413 (as over HTTP/1)
	AltSvc       string     // an Alt-Svc value for every response ("" for none)

	// Limits bound a request's head as over HTTP/1.1: 414 or 431
	// beyond (http1.DefaultLimits for zero fields).
	Limits http1.Limits
}

// New returns a Handler serving with h.
func New(h http1.Handler, o Options) *Handler {
	a := &Handler{h: h, log: o.Log, maxBody: o.MaxBodyBytes, lim: o.Limits.WithDefaults()}
	a.mh, _ = h.(http1.MemoryHandler)
	a.bh, _ = h.(http1.BodyHandler)
	if o.AltSvc != "" {
		a.altSvc = []string{o.AltSvc}
	}
	return a
}

// state is what one request needs, pooled.
type state struct {
	req  http1.Request
	resp http1.Response
	rec  http1.Record
	cw   countingWriter
}

// countingWriter counts the body bytes the protocol takes, for the
// record: what a client that left early got is less than planned.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var states = sync.Pool{New: func() any { return new(state) }}

// s2b views s as bytes; the handler never modifies request bytes.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// ServeHTTP implements http.Handler.
func (a *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := states.Get().(*state)
	defer states.Put(st)
	req, resp := &st.req, &st.resp
	resp.Reset()
	now := time.Now()
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	err := req.SetTarget(s2b(r.Method), s2b(target), r.ProtoMajor)
	if err == nil {
		err = req.SetHost(s2b(r.Host))
	}
	if err == nil {
	fields:
		for name, values := range r.Header {
			for _, v := range values {
				if err = req.AddField(s2b(name), s2b(v)); err != nil {
					break fields // not overwritten by the next field's nil
				}
			}
		}
	}
	if ap, perr := netip.ParseAddrPort(r.RemoteAddr); perr == nil {
		req.Remote = ap
	}
	req.TLS = r.TLS != nil
	req.ContentLength = r.ContentLength
	over := a.overLimits(r, target)
	limit := a.maxBody
	if err == nil && a.bh != nil && r.Body != nil && r.Body != http.NoBody {
		if l := a.bh.BodyLimit(req); l > 0 {
			limit, req.Body = l, r.Body // the handler reads it (see http1.BodyHandler)
		}
	}
	// Whatever happens from here (a handler's panic, a body cut with
	// ErrAbortHandler), the file is released, the request is logged as
	// the HTTP/1 engines log it (once written or cut, with the body
	// bytes the protocol took), and the pooled state keeps no reference.
	st.cw = countingWriter{w: w}
	defer func() {
		if resp.Closer != nil {
			resp.Closer.Close()
			resp.Closer = nil
		}
		if resp.Status != 0 {
			a.record(st, r, now)
		}
		st.cw = countingWriter{}
		req.Reset()
	}()
	switch {
	case err != nil:
		http1.ErrorPage(resp, http1.StatusOf(err))
	case over != 0:
		http1.ErrorPage(resp, over)
	case r.ContentLength > limit:
		http1.ErrorPage(resp, 413)
	default:
		// As the HTTP/1.1 engines do: a cached, fresh entry answers from
		// memory (a false return leaves resp untouched), and only a miss
		// goes the disk path.
		if a.mh == nil || !a.mh.ServeFromMemory(req, resp) {
			a.h.ServeHTTP1(req, resp)
		}
	}
	a.write(w, &st.cw, req, resp)
}

// record logs the request of st, received at now, with the body bytes
// written.
func (a *Handler) record(st *state, r *http.Request, now time.Time) {
	if a.log == nil {
		return
	}
	req, resp := &st.req, &st.resp
	body := st.cw.n
	remote := req.Remote
	if resp.Client.IsValid() {
		remote = netip.AddrPortFrom(resp.Client, 0)
	}
	end := time.Now()
	st.rec = http1.Record{
		Remote: remote, Time: end, Duration: end.Sub(now),
		Method: req.MethodName, Target: req.Target, Host: req.Host, Major: r.ProtoMajor, Minor: r.ProtoMinor,
		Status: resp.Status, Bytes: body, Sent: body,
		Referer: req.Referer, UserAgent: req.UserAgent, Headers: req.Headers,
	}
	a.log.Log(&st.rec)
	st.rec = http1.Record{}
}

// overLimits is the status an HTTP/1.1 engine refuses r with for the
// size of its head (see http1.Request.ParseHead), measured as HTTP/1.1
// would carry it, Host field included: 414 or 431; or 0.
func (a *Handler) overLimits(r *http.Request, target string) int {
	line := len(r.Method) + 1 + len(target) + len(" HTTP/1.1\r\n")
	size, count := line+len("Host: \r\n")+len(r.Host)+len("\r\n"), 1
	for name, values := range r.Header {
		for _, v := range values {
			size += len(name) + len(": \r\n") + len(v)
			count++
		}
	}
	return http1.HeadStatus(a.lim, line, size, count, len(target))
}

// write sends the plan: its fields, then its body (none for HEAD or a
// status without content) through body, which writes to w.
func (a *Handler) write(w http.ResponseWriter, body io.Writer, req *http1.Request, resp *http1.Response) {
	h := w.Header()
	h["Server"] = serverValue
	addFields(h, &resp.Fixed)
	addFields(h, &resp.Header)
	if a.altSvc != nil {
		h["Alt-Svc"] = a.altSvc
	}
	allowed := http1.BodyAllowed(resp.Status)
	n := resp.ContentLength()
	if allowed {
		if resp.Stream == nil { // a stream's length is unknown: the protocol frames it
			h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
		}
		if _, ok := h["Content-Type"]; !ok {
			h["Content-Type"] = nil // no sniffing: the plan says what it sends
		}
	}
	w.WriteHeader(resp.Status)
	if !allowed || req.Method == http1.MethodHead {
		return
	}
	switch {
	case resp.Stream != nil:
		if _, err := resp.Stream.WriteTo(body); err != nil {
			// Cut, never ended as if complete (RST_STREAM; over
			// HTTP/1.1, no last chunk).
			panic(http.ErrAbortHandler)
		}
	case resp.File != nil:
		writeSegment(body, resp.File, resp.Off, resp.Len)
	case len(resp.Parts) > 0:
		for i := range resp.Parts {
			p := &resp.Parts[i]
			if _, err := body.Write(p.Head); err != nil {
				return
			}
			if _, err := body.Write(p.Data); err != nil {
				return
			}
			if p.File != nil && writeSegment(body, p.File, p.Off, p.Len) != nil {
				return
			}
		}
	default:
		body.Write(resp.Body)
	}
}

var serverValue = []string{"weft"}

// writeSegment copies [off, off+n) of f to w. A file that shrank or
// failed under us cuts the stream (RST_STREAM), never padded or left short
// as if complete.
func writeSegment(w io.Writer, f http1.File, off, n int64) error {
	err := http1.CopySegment(w, f, off, n)
	if errors.Is(err, http1.ErrFileCut) {
		panic(http.ErrAbortHandler)
	}
	return err
}

// addFields adds f's fields to h under their names as written (the site
// writes canonical names; HTTP/2 and HTTP/3 send them in lower case).
func addFields(h http.Header, f *http1.Fields) {
	for i := range f.Len() {
		name, value := f.Field(i)
		key := fieldName(name)
		h[key] = append(h[key], string(value))
	}
}

// knownNames are the field names the site writes, so that a response's
// keys cost no allocation.
var knownNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"Content-Type", "Content-Encoding", "Content-Range", "Vary", "Cache-Control", "ETag",
		"Last-Modified", "Accept-Ranges", "Location", "Allow", "WWW-Authenticate",
		"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
		"Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
		"Access-Control-Allow-Headers", "Access-Control-Max-Age", "Strict-Transport-Security",
		"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy",
		"Cross-Origin-Opener-Policy", "Permissions-Policy", "Retry-After", "Content-Disposition",
	} {
		m[n] = n
	}
	return m
}()

func fieldName(b []byte) string {
	if s, ok := knownNames[string(b)]; ok {
		return s
	}
	return string(b)
}

// AltSvc returns h adding an Alt-Svc field with value v to every response
// to a request over TLS (HTTP/1.1 over TLS: HTTP/2 and HTTP/3 responses get
// theirs from Options.AltSvc). A browser ignores Alt-Svc over cleartext.
func AltSvc(h http1.Handler, v string) http1.Handler {
	a := &altSvc{h: h, v: v}
	if mh, ok := h.(http1.MemoryHandler); ok {
		return &altSvcMemory{altSvc: a, mh: mh}
	}
	return a
}

type altSvc struct {
	h http1.Handler
	v string
}

func (a *altSvc) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	a.h.ServeHTTP1(req, resp)
	if req.TLS {
		resp.AddHeader("Alt-Svc", a.v)
	}
}

// BodyLimit implements http1.BodyHandler: h's limit, or 0 (the body is
// the connection's to drop) when h takes no bodies.
func (a *altSvc) BodyLimit(req *http1.Request) int64 {
	if bh, ok := a.h.(http1.BodyHandler); ok {
		return bh.BodyLimit(req)
	}
	return 0
}

type altSvcMemory struct {
	*altSvc
	mh http1.MemoryHandler
}

func (a *altSvcMemory) ServeFromMemory(req *http1.Request, resp *http1.Response) bool {
	if !a.mh.ServeFromMemory(req, resp) {
		return false
	}
	if req.TLS {
		resp.AddHeader("Alt-Svc", a.v)
	}
	return true
}
