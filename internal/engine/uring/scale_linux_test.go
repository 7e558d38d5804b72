package uring_test

import (
	"bufio"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/uring"
	"github.com/weft-server/weft/internal/site"
)

// Test10kKeepAlive: see conformance.KeepAliveMany; an idle connection
// holds no read buffer here either, the kernel picking one from the
// loop's ring only when data arrives.
func Test10kKeepAlive(t *testing.T) {
	conformance.KeepAliveMany(t, "../../..", "uring", 10000)
}

// TestMaxConnsAcrossLoops: see conformance.MaxConnsAcrossLoops.
func TestMaxConnsAcrossLoops(t *testing.T) {
	conformance.MaxConnsAcrossLoops(t, conformance.StartEngine(uring.Engine{Loops: 8}))
}

// TestShutdownAbandonsStuckHandler: a handler that never returns does not
// hold Serve past the shutdown timeout.
func TestShutdownAbandonsStuckHandler(t *testing.T) {
	conformance.ShutdownAbandonsStuckHandler(t, uring.Engine{Loops: 1, Workers: 1})
}

// TestBurstBeyondSubmissionQueue: a single loop gets more requests at
// once than its submission queue has entries, so that answering them
// fills the queue mid-turn and submits (and reaps) before the turn ends:
// every client still gets its answer, none of the completions reaped
// meanwhile is lost.
func TestBurstBeyondSubmissionQueue(t *testing.T) {
	const n = 1200 // several times the ring's 256 entries
	srv := conformance.StartEngine(uring.Engine{Loops: 1, Workers: 1})(t, conformance.Options{
		Site: site.Config{Root: conformance.Tree(t)},
	})
	conns := conformance.DialMany(t, srv.Addr, n, "")
	// Every request is written once all are connected, before any
	// answer is read: the loop finds them together.
	for i, c := range conns {
		if _, err := io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d of %d: no answer: %v", i, n, err)
		}
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || err != nil || string(body) != "hello, world\n" {
			t.Fatalf("connection %d: %d %q %v", i, resp.StatusCode, body, err)
		}
	}
}

// TestShutdownCutsUploadPastTimeout: see
// conformance.ShutdownCutsUploadPastTimeout; the socket is lent to the
// upload's goroutine, which the loop shuts down on its way out.
func TestShutdownCutsUploadPastTimeout(t *testing.T) {
	conformance.ShutdownCutsUploadPastTimeout(t, uring.Engine{Loops: 1, Workers: 1})
}

// TestAbandonedJobReturnsAsLoopExits: see the epoll engine's (run with -race).
func TestAbandonedJobReturnsAsLoopExits(t *testing.T) {
	conformance.AbandonedHandlerReturnsAsLoopExits(t, uring.Engine{Loops: 1, Workers: 1})
}
