package conformance

import (
	"context"
	"io"
	"net"
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
