package h1conn_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

type records struct{ got []http1.Record }

func (r *records) Log(rec *http1.Record) {
	c := *rec
	c.Method = bytes.Clone(rec.Method)
	c.Target = bytes.Clone(rec.Target)
	r.got = append(r.got, c)
}

// A request refused before it could be parsed (414, 431, 400) is logged as
// itself, not under the method and target of the pipelined request before
// it, whose state the connection still held.
func TestFailLogsItsOwnRequest(t *testing.T) {
	st := oneFileSite(t)
	for _, tc := range []struct {
		name, bad string
		status    int
	}{
		{"414", "GET /" + string(bytes.Repeat([]byte("x"), 20000)), 414},
		{"431", "GET / HTTP/1.1\r\nX: " + string(bytes.Repeat([]byte("x"), 20000)), 431},
		{"400", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log records
			cfg := h1conn.Config{Handler: st, Log: &log}.WithDefaults()
			now := time.Now()
			c := h1conn.New(cfg, netip.MustParseAddrPort("192.0.2.1:1"), now)
			defer c.Release()
			in := []byte("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n" + tc.bad)
			// A client that reads nothing yet: the first answer stays
			// queued while the bad request arrives behind it.
			out := &collect{room: func() int { return 0 }}
			for len(in) > 0 && !c.Closing() {
				space := c.ReadSpace()
				n := copy(space, in)
				in = in[n:]
				c.Received(n, now)
				c.Process(now)
				c.Flush(out, now)
			}
			// The client never read: both answers are logged, as
			// aborted, when the connection is released.
			c.Release()
			if len(log.got) != 2 {
				t.Fatalf("%d records, want 2", len(log.got))
			}
			r := log.got[1]
			if r.Status != tc.status || len(r.Method) != 0 || len(r.Target) != 0 {
				t.Fatalf("second record: status %d, method %q, target %.20q; want %d with no method or target", r.Status, r.Method, r.Target, tc.status)
			}
		})
	}
}

// A body that stops arriving between reads leaves the connection in its
// body phase with no input buffer (an idle connection holds none); being
// driven again then, as an event loop does after a write, must wait for
// more, not fail.
func TestBodyPausedBetweenReads(t *testing.T) {
	st := oneFileSite(t)
	for _, head := range []string{
		"GET /a.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
		"GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab",
	} {
		now := time.Now()
		c := h1conn.New(h1conn.Config{Handler: st}.WithDefaults(), netip.MustParseAddrPort("192.0.2.1:1"), now)
		out := &collect{room: func() int { return 0 }} // the answer stays queued
		feedConn(c, head, now)
		c.Flush(out, now)
		c.Process(now) // no new input: the body waits
		out.room = nil
		c.Flush(out, now)
		rest := "c\r\n0\r\n\r\n"
		if !bytes.Contains([]byte(head), []byte("chunked")) {
			rest = "cdefghij"
		}
		feedConn(c, rest+"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", now)
		c.Flush(out, now)
		if n := bytes.Count(out.b, []byte("HTTP/1.1 200 OK")); n != 2 {
			t.Fatalf("%d answers, want 2:\n%s", n, out.b)
		}
		c.Release()
	}
}

func feedConn(c *h1conn.Conn, in string, now time.Time) {
	for len(in) > 0 {
		n := copy(c.ReadSpace(), in)
		in = in[n:]
		c.Received(n, now)
		c.Process(now)
	}
}

// oneFileSite serves a folder holding a.txt ("a").
func oneFileSite(t *testing.T) *site.Site {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := site.Open(site.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type closeCounter struct{ n *int }

func (c closeCounter) Close() error { *c.n++; return nil }

type closerHandler struct{ n *int }

func (h closerHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	resp.Status = 200
	resp.Body = []byte("x")
	resp.Closer = closeCounter(h)
}

// An offloaded request whose handler returns after the engine gave up on
// its connection (a shutdown timeout) still has what its answer holds
// closed: a file descriptor or a cache reference is not left to the GC.
func TestAbandonClosesTheAnswer(t *testing.T) {
	var closed int
	now := time.Now()
	c := h1conn.New(h1conn.Config{Handler: closerHandler{&closed}}.WithDefaults(), netip.MustParseAddrPort("192.0.2.1:1"), now)
	c.SetAsync(true)
	feedConn(c, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n", now)
	if !c.Offloaded() {
		t.Fatal("not offloaded")
	}
	c.ServeOffloaded() // on a worker, which returns after the loop has gone
	c.Abandon()
	if closed != 1 {
		t.Fatalf("the answer's closer closed %d times, want 1", closed)
	}
}

// Config.Open counts open connections: one per New, one less at the
// release, once however often it is released, and an offloaded request's
// connection stays counted until its handler is done with it (Abandon).
func TestOpenCount(t *testing.T) {
	var closed int
	var open atomic.Int64
	cfg := h1conn.Config{Handler: closerHandler{&closed}, Open: &open}.WithDefaults()
	now := time.Now()
	a := h1conn.New(cfg, netip.MustParseAddrPort("192.0.2.1:1"), now)
	b := h1conn.New(cfg, netip.MustParseAddrPort("192.0.2.1:2"), now)
	if n := open.Load(); n != 2 {
		t.Fatalf("%d open after two New, want 2", n)
	}
	a.Release()
	a.Release()
	if n := open.Load(); n != 1 {
		t.Fatalf("%d open after one released twice, want 1", n)
	}
	b.SetAsync(true)
	feedConn(b, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n", now)
	if !b.Offloaded() {
		t.Fatal("not offloaded")
	}
	b.Release() // the engine gives up; the handler still runs
	if n := open.Load(); n != 1 {
		t.Fatalf("%d open while the handler runs, want 1", n)
	}
	b.ServeOffloaded()
	b.Abandon()
	if n := open.Load(); n != 0 {
		t.Fatalf("%d open at the end, want 0", n)
	}
}
