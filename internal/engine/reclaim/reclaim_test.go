//go:build linux

package reclaim_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/goroutine"
	"github.com/weft-server/weft/internal/engine/thread"
	"github.com/weft-server/weft/internal/site"
)

const hello = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"

func get(t *testing.T, c net.Conn) (*http.Response, error) {
	t.Helper()
	if _, err := io.WriteString(c, hello); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp, err
}

func closedSoon(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// TestMaxConnsReclaimsIdle: at --max-conns, connections answered and now
// idle make room for newcomers, oldest first, on the blocking engines;
// before, the 21st client waited in the backlog until an idle timeout.
func TestMaxConnsReclaimsIdle(t *testing.T) {
	root := conformance.Tree(t)
	for _, tc := range []struct {
		name string
		e    engine.Engine
	}{{"thread", thread.Engine{}}, {"goroutine", goroutine.Engine{}}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := conformance.StartEngine(tc.e)(t, conformance.Options{Site: site.Config{Root: root}, Engine: engine.Config{MaxConns: 20}})
			var conns []net.Conn
			for i := 0; i < 26; i++ {
				c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns = append(conns, c)
				resp, err := get(t, c)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("kept-alive connection %d of 26 at --max-conns 20: %v %v, want 200", i, err, resp)
				}
			}
			// Which connections were closed, watched side by side. "Idle
			// since" is when a connection's goroutine went back to wait,
			// a moment after its client read the answer, so on a busy
			// machine the next connection may go idle first: the six
			// closed must be six of the oldest few, not exactly the first
			// six, and exactly six (one per newcomer).
			closed := make([]bool, len(conns))
			var wg sync.WaitGroup
			for i, c := range conns {
				wg.Go(func() { closed[i] = closedSoon(c, 1500*time.Millisecond) })
			}
			wg.Wait()
			var which []int
			for i, x := range closed {
				if x {
					which = append(which, i)
				}
			}
			if len(which) != 6 || which[5] >= 10 {
				t.Fatalf("closed at --max-conns 20 after 26 kept-alive clients: connections %v, want 6 of the 10 oldest", which)
			}
		})
	}
}

// TestBusyAtMaxConnsLeavesNewcomersInBacklog: with every slot held by a
// connection in mid-request (nothing idle to reclaim), the blocking
// engines take no newcomer out of the kernel's backlog: one accepted and
// held without a slot would be served by no one (and, under prefork, not
// by another worker that could).
func TestBusyAtMaxConnsLeavesNewcomersInBacklog(t *testing.T) {
	root := conformance.Tree(t)
	for _, tc := range []struct {
		name string
		e    engine.Engine
	}{{"thread", thread.Engine{}}, {"goroutine", goroutine.Engine{}}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := conformance.StartEngine(tc.e)(t, conformance.Options{Site: site.Config{Root: root}, Engine: engine.Config{MaxConns: 1}})
			busy, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			io.WriteString(busy, "GET /hello.txt HTTP/1.1\r\n") // half a head: busy, not idle
			time.Sleep(100 * time.Millisecond)
			for i := 0; i < 3; i++ {
				c, err := net.Dial("tcp", srv.Addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			_, port, _ := net.SplitHostPort(srv.Addr)
			var queued int
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if queued = acceptQueue(t, port); queued == 3 {
					break
				}
			}
			if queued != 3 {
				t.Fatalf("3 newcomers at MaxConns 1 with the one connection busy: %d in the kernel's backlog, want 3", queued)
			}
			// Once the busy connection completes and leaves, the newcomers
			// are served.
			io.WriteString(busy, "Host: t\r\nConnection: close\r\n\r\n")
			if !closedSoon(busy, 5*time.Second) {
				t.Fatal("the busy connection was not answered and closed")
			}
		})
	}
}

// acceptQueue returns how many connections wait in the accept queue of the
// loopback listener on port (rx_queue of its LISTEN line in /proc/net/tcp).
func acceptQueue(t *testing.T, port string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp")
	}
	p, _ := strconv.Atoi(port)
	want := fmt.Sprintf(":%04X", p)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasSuffix(f[1], want) || f[3] != "0A" {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		n, _ := strconv.ParseInt(rx, 16, 64)
		return int(n)
	}
	t.Fatalf("no listener on port %s in /proc/net/tcp", port)
	return 0
}
