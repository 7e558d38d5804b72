package conformance

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	cfg := engine.Config{Handler: b, ShutdownTimeout: 300 * time.Millisecond}
	go func() { served <- e.Serve(ctx, ln, cfg.WithDefaults()) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	<-b.entered
	cancel()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10s after shutdown began (timeout 300ms), held by a stuck handler")
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
