package h1conn_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
)

// gated writes its parts one by one, each once let through by gate (a
// closed gate lets everything through), then fails with fail if set. done
// is closed when WriteTo returns, with its error.
type gated struct {
	parts [][]byte
	gate  chan struct{}
	fail  error
	done  chan error
}

func (g *gated) WriteTo(w io.Writer) (n int64, err error) {
	defer func() { g.done <- err; close(g.done) }()
	for _, p := range g.parts {
		<-g.gate
		m, err := w.Write(p)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, g.fail
}

type streamHandler struct{ s *gated }

func (h streamHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	resp.Status = 200
	if string(req.Path) != "/stream" {
		resp.Body = []byte("plain")
		return
	}
	resp.Stream = h.s
}

type notifier chan struct{}

func (n notifier) Notify() {
	select {
	case n <- struct{}{}:
	default:
	}
}

func parts() ([][]byte, []byte) {
	var ps [][]byte
	var all []byte
	for i, size := range []int{10, 70 << 10, 1, 200 << 10, 5} {
		p := bytes.Repeat([]byte{byte('a' + i)}, size)
		ps = append(ps, p)
		all = append(all, p...)
	}
	return ps, all
}

// drive flushes c to out as an event loop would: on ErrStreamWait it
// waits for a notification (letting the producer on), on ErrYield and
// ErrWouldBlock it flushes again. It returns Flush's other error.
func drive(t *testing.T, c *h1conn.Conn, out *collect, n notifier, gate chan struct{}) error {
	for c.Pending() {
		err := c.Flush(out, time.Now())
		switch {
		case errors.Is(err, h1conn.ErrStreamWait):
			// Let the producer on, a part at a time, until it has a
			// buffer for the connection.
			timeout := time.After(5 * time.Second)
		wait:
			for {
				select {
				case gate <- struct{}{}:
				case <-n:
					break wait
				case <-timeout:
					t.Fatal("no notification from the producer")
				}
			}
		case errors.Is(err, h1conn.ErrYield), errors.Is(err, h1conn.ErrWouldBlock):
		case err != nil:
			return err
		}
		c.Process(time.Now())
	}
	return nil
}

// A streamed body goes out chunked, whole, from a producer that an event
// loop never waits for: Flush returns ErrStreamWait when it has nothing,
// and it notifies when it has; a request pipelined behind it is answered
// after it, on the same connection.
func TestStreamChunkedNonBlocking(t *testing.T) {
	ps, all := parts()
	s := &gated{parts: ps, gate: make(chan struct{}), done: make(chan error, 1)}
	n := make(notifier, 1)
	c := h1conn.New(h1conn.Config{Handler: streamHandler{s}}.WithDefaults(), netip.MustParseAddrPort("192.0.2.1:1"), time.Now())
	defer c.Release()
	c.SetNotifier(n)
	feedConn(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /plain HTTP/1.1\r\nHost: t\r\n\r\n", time.Now())
	room := 0
	out := &collect{room: func() int { room = (room + 7919) % 100000; return room }} // a socket that fills now and then
	if err := drive(t, c, out, n, s.gate); err != nil {
		t.Fatal(err)
	}
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(out.b))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if te := resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" || resp.ContentLength != -1 {
		t.Fatalf("framing: Transfer-Encoding %v, Content-Length %d", te, resp.ContentLength)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(body, all) {
		t.Fatalf("body of %d bytes (err %v), want %d", len(body), err, len(all))
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("response after the stream: %v", err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "plain" {
		t.Fatalf("second body %q", b)
	}
}

// Over HTTP/1.0 the body is delimited by the close: no chunks, no length,
// Connection: close.
func TestStreamHTTP10(t *testing.T) {
	ps, all := parts()
	gate := make(chan struct{})
	close(gate)
	s := &gated{parts: ps, gate: gate, done: make(chan error, 1)}
	c := h1conn.New(h1conn.Config{Handler: streamHandler{s}}.WithDefaults(), netip.MustParseAddrPort("192.0.2.1:1"), time.Now())
	defer c.Release()
	feedConn(c, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", time.Now())
	out := &collect{}
	if err := c.Flush(out, time.Now()); err != nil { // blocking: waits for the producer
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(out.b), "\r\n\r\n")
	if strings.Contains(head, "Content-Length") || strings.Contains(head, "Transfer-Encoding") || !strings.Contains(head, "Connection: close") {
		t.Fatalf("head:\n%s", head)
	}
	if body != string(all) || !c.Done() {
		t.Fatalf("body of %d bytes, want %d; done %v", len(body), len(all), c.Done())
	}
}

// A producer that fails cuts the body: Flush fails and the last chunk is
// never sent, so the client cannot take the body for whole.
func TestStreamProducerFails(t *testing.T) {
	ps, _ := parts()
	gate := make(chan struct{})
	close(gate)
	s := &gated{parts: ps, gate: gate, fail: errors.New("disk gone"), done: make(chan error, 1)}
	c := h1conn.New(h1conn.Config{Handler: streamHandler{s}}.WithDefaults(), netip.MustParseAddrPort("192.0.2.1:1"), time.Now())
	defer c.Release()
	feedConn(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", time.Now())
	out := &collect{}
	if err := c.Flush(out, time.Now()); err == nil {
		t.Fatal("Flush succeeded with a failed producer")
	}
	_, body, _ := strings.Cut(string(out.b), "\r\n\r\n")
	if _, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(body))); err == nil {
		t.Fatal("the cut body reads as a whole chunked body")
	}
}

// Releasing the connection mid-body (the client left) ends the producer:
// its next Write fails.
func TestStreamReleased(t *testing.T) {
	ps, _ := parts()
	s := &gated{parts: ps, gate: make(chan struct{}), done: make(chan error, 1)}
	n := make(notifier, 1)
	c := h1conn.New(h1conn.Config{Handler: streamHandler{s}}.WithDefaults(), netip.MustParseAddrPort("192.0.2.1:1"), time.Now())
	c.SetNotifier(n)
	feedConn(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", time.Now())
	if err := c.Flush(&collect{}, time.Now()); !errors.Is(err, h1conn.ErrStreamWait) {
		t.Fatalf("Flush: %v, want ErrStreamWait", err)
	}
	c.Release()
	close(s.gate)
	select {
	case err := <-s.done:
		if err == nil {
			t.Fatal("the producer wrote its whole body to a released connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the producer did not end after Release")
	}
}

// A producer that makes nothing for the write timeout is cut, also where
// Flush waits for it (the blocking engines).
func TestStreamStalled(t *testing.T) {
	ps, _ := parts()
	s := &gated{parts: ps, gate: make(chan struct{}), done: make(chan error, 1)}
	c := h1conn.New(h1conn.Config{Handler: streamHandler{s}, WriteTimeout: 50 * time.Millisecond}.WithDefaults(), netip.MustParseAddrPort("192.0.2.1:1"), time.Now())
	feedConn(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", time.Now())
	start := time.Now()
	if err := c.Flush(&collect{}, time.Now()); err == nil {
		t.Fatal("Flush succeeded with a stalled producer")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Flush waited %v for a stalled producer", d)
	}
	c.Release()
	close(s.gate)
	<-s.done
}
