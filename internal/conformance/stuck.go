package conformance

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/http1"
)

// blocker is a handler that blocks every request until released.
type blocker struct{ entered, release chan struct{} }

func (b blocker) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	b.entered <- struct{}{}
	<-b.release
	resp.Status = 200
}

// ShutdownAbandonsStuckHandler checks that a handler that never returns
// does not hold e's Serve past the shutdown timeout (plus a second's
// grace): --shutdown-timeout bounds a stop whatever the disk does.
func ShutdownAbandonsStuckHandler(t *testing.T, e engine.Engine) {
	b := blocker{make(chan struct{}, 1), make(chan struct{})}
	defer close(b.release)
	addr, stop := serveToStop(t, e, b)
	c := dial(t, addr)
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	<-b.entered
	stop("a stuck handler")
}

// serveToStop serves h with e and a shutdown timeout of 300ms; stop
// begins the shutdown and fails t unless Serve returns, without error,
// within 10s (it would be held by what).
func serveToStop(t *testing.T, e engine.Engine, h http1.Handler) (addr string, stop func(what string)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	served := make(chan error, 1)
	cfg := engine.Config{Handler: h, ShutdownTimeout: 300 * time.Millisecond}
	go func() { served <- e.Serve(ctx, ln, cfg.WithDefaults()) }()
	return ln.Addr().String(), func(what string) {
		t.Helper()
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Serve still running 10s after shutdown began (timeout 300ms), held by %s", what)
		}
	}
}

// bodyReader is a handler that takes request bodies (an upload): it
// reports the first bytes read, then reads to the end and reports how
// reading ended.
type bodyReader struct {
	started chan struct{}
	ended   chan error
}

func (b bodyReader) BodyLimit(*http1.Request) int64 { return 1 << 30 }

func (b bodyReader) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	var p [1024]byte
	_, err := io.ReadFull(req.Body, p[:])
	b.started <- struct{}{}
	if err == nil {
		_, err = io.Copy(io.Discard, req.Body)
	}
	b.ended <- err
	resp.Status = 201
}

// ShutdownCutsUploadPastTimeout checks that an upload still under way
// when the shutdown timeout passes does not hold e's Serve: the body is
// cut (its handler's read fails, so the site removes what it wrote), the
// client's connection is closed, and Serve returns.
func ShutdownCutsUploadPastTimeout(t *testing.T, e engine.Engine) {
	b := bodyReader{make(chan struct{}, 1), make(chan error, 1)}
	addr, stop := serveToStop(t, e, b)
	c := dial(t, addr)
	defer c.Close()
	// A 1 MiB body of which 64 KiB come: the rest never does.
	io.WriteString(c, "PUT /up.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat("x", 64<<10))
	select {
	case <-b.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the upload's handler did not start within 10s")
	}
	stop("an upload")
	select {
	case err := <-b.ended:
		if err == nil {
			t.Fatal("the cut body read to its end without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the upload's handler was still reading 10s after shutdown began")
	}
	if !closedSoon(c, 5*time.Second) {
		t.Fatal("the cut upload's connection was not closed")
	}
}

// AbandonedHandlerReturnsAsLoopExits checks an event loop's exit against
// the job it abandons: the stuck handler is released while the exiting
// loop closes its other connections (the moment a silent client's
// connection is closed), so that the job closes its connection while the
// loop still walks them. The loop must not look at the job's connection
// then, nor close it a second time: under the race detector a read of
// its state unordered with the job's release fails the test, and the
// job's connection must be closed exactly once (its client sees the end,
// and a second close of the number could end a newer connection's).
func AbandonedHandlerReturnsAsLoopExits(t *testing.T, e engine.Engine) {
	b := blocker{make(chan struct{}, 1), make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	cfg := engine.Config{Handler: b, ShutdownTimeout: 300 * time.Millisecond}
	go func() { served <- e.Serve(ctx, ln, cfg.WithDefaults()) }()
	job := dial(t, ln.Addr().String())
	defer job.Close()
	io.WriteString(job, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	<-b.entered
	// Silent clients (with a request begun, so not drainable): the loop
	// closes them only as it exits.
	silent := make([]net.Conn, 64)
	for i := range silent {
		silent[i] = dial(t, ln.Addr().String())
		defer silent[i].Close()
		io.WriteString(silent[i], "GET / HTTP/1.1\r\n")
	}
	released := make(chan struct{})
	go func() {
		// No memory is shared with the loop on this path: only a
		// socket's end orders the release after the loop's exit began.
		silent[0].SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, silent[0])
		// Input for the job's connection as the loop exits: the
		// loop may receive it, but must leave the Conn to the job.
		io.WriteString(job, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
		close(b.release)
		close(released)
	}()
	cancel()
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		close(b.release)
		t.Fatal("the silent connection was not closed within 10s of shutdown (timeout 300ms)")
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	job.SetReadDeadline(time.Now().Add(5 * time.Second))
	// Closed with the input unread: an end or a reset, not a timeout.
	if _, err := io.Copy(io.Discard, job); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the abandoned connection was not closed once its handler returned: %v", err)
	}
}
