//go:build linux

package epoll_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/epoll"
	"github.com/weft-server/weft/internal/engine/thread"
	"github.com/weft-server/weft/internal/site"
)

// TestLoopsIgnoreThreadEngine: the thread engine raises GOMAXPROCS while
// it has many connections; an epoll engine started beside it still gets
// one loop per P the process started with (the CPUs it may use), not one
// per P the thread engine made.
func TestLoopsIgnoreThreadEngine(t *testing.T) {
	want := runtime.GOMAXPROCS(0)
	srv := conformance.StartEngine(thread.Engine{})(t, conformance.Options{Site: site.Config{Root: conformance.Tree(t)}})
	for i := range 2*runtime.NumCPU() + 3 {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
	}
	if runtime.GOMAXPROCS(0) <= want {
		t.Fatalf("the thread engine did not raise GOMAXPROCS (%d)", runtime.GOMAXPROCS(0))
	}
	loops, workers := epoll.Engine{}.Sizes()
	if loops != want || workers != 4*want {
		t.Fatalf("beside the thread engine at GOMAXPROCS %d: %d loops, %d workers; want %d and %d",
			runtime.GOMAXPROCS(0), loops, workers, want, 4*want)
	}
}
