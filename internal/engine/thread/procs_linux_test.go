package thread

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/site"
)

func TestProcSizer(t *testing.T) {
	gomaxprocs := 2
	var calls []int
	p := procSizer{set: func(n int) int {
		prev := gomaxprocs
		if n > 0 {
			gomaxprocs = n
			calls = append(calls, n)
		}
		return prev
	}}
	t0 := time.Unix(1000, 0)
	p.start(t0)
	p.start(t0) // a second engine in the process shares the sizing
	for range 5 {
		p.threadStarted()
	}
	if gomaxprocs != 8 {
		t.Fatalf("5 threads from 2 Ps: GOMAXPROCS %d, want 8 (doubled until it covers them)", gomaxprocs)
	}
	for range 5 {
		p.threadEnded()
	}
	p.tick(t0.Add(shrinkEvery / 2))
	if gomaxprocs != 8 {
		t.Fatalf("shrunk to %d before shrinkEvery passed", gomaxprocs)
	}
	p.tick(t0.Add(shrinkEvery))
	if gomaxprocs != 8 {
		t.Fatalf("shrunk to %d although 5 threads ran since the last check", gomaxprocs)
	}
	p.tick(t0.Add(2 * shrinkEvery))
	if gomaxprocs != 2 {
		t.Fatalf("no thread for a whole period: GOMAXPROCS %d, want 2", gomaxprocs)
	}
	for range 1000 {
		p.threadStarted()
	}
	if gomaxprocs != maxProcs {
		t.Fatalf("1000 threads: GOMAXPROCS %d, want the cap %d", gomaxprocs, maxProcs)
	}
	n := len(calls)
	p.threadStarted()
	if len(calls) != n {
		t.Fatalf("resized past the cap: %v", calls[n:])
	}
	p.stop()
	if gomaxprocs != maxProcs {
		t.Fatalf("restored to %d while another engine still serves", gomaxprocs)
	}
	p.stop()
	if gomaxprocs != 2 {
		t.Fatalf("last engine stopped: GOMAXPROCS %d, want 2 restored", gomaxprocs)
	}
	if want := []int{4, 8, 2, 4, 8, 16, 32, 64, 128, 256, 2}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Fatalf("resizes %v, want %v", calls, want)
	}
}

// TestProcsFollowConnections opens real connections to the engine: each
// gets a thread, and the process gets at least a P per thread while they
// are open and its own GOMAXPROCS back once the engine stops.
func TestProcsFollowConnections(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	srv := conformance.StartEngine(Engine{})(t, conformance.Options{Site: site.Config{Root: conformance.Tree(t)}})
	conns := 2*base + 3
	for i := range conns {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// An answered request proves the connection's thread runs.
		fmt.Fprintf(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
	}
	if got := runtime.GOMAXPROCS(0); got < conns {
		t.Errorf("%d connection threads: GOMAXPROCS %d, want at least %d", conns, got, conns)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Errorf("after the engine stopped: GOMAXPROCS %d, want %d back", got, base)
	}
}
