//go:build linux

package epoll_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/epoll"
	"github.com/weft-server/weft/internal/site"
)

// TestMaxConnsAcrossLoops: many loops accepting at once never hold more
// than --max-conns connections: clients arriving together, all busy (half
// a head sent), are served up to the limit and refused beyond it.
func TestMaxConnsAcrossLoops(t *testing.T) {
	const limit, clients = 2, 64
	srv := conformance.StartEngine(epoll.Engine{Loops: 8})(t, conformance.Options{
		Site:   site.Config{Root: conformance.Tree(t)},
		Engine: engine.Config{MaxConns: limit},
	})
	for round := 0; round < 5; round++ {
		conns := make([]net.Conn, clients)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
				if err != nil {
					return
				}
				conns[i] = c
				<-start
				io.WriteString(c, "GET /hello.txt HTTP/1.1\r\n")
			}()
		}
		time.Sleep(100 * time.Millisecond)
		close(start)
		wg.Wait()
		// A refused client gets its 503 at once; a held one gets nothing.
		held := 0
		for _, c := range conns {
			if c == nil {
				continue
			}
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			switch {
			case err != nil:
				t.Logf("held: %v", err)
				held++
			case resp.StatusCode != 503:
				t.Fatalf("status %d for a half-sent request", resp.StatusCode)
			}
		}
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		if held > limit {
			t.Fatalf("round %d: %d connections held at --max-conns %d", round, held, limit)
		}
		time.Sleep(200 * time.Millisecond) // let the server see the closes
	}
}
