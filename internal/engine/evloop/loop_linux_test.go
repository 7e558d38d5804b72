//go:build linux

package evloop_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/epoll"
	"github.com/weft-server/weft/internal/engine/poll"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// engines are the two engines built on the loop.
var engines = []struct {
	name string
	e    engine.Engine
}{
	{"poll", poll.Engine{}},
	{"epoll", epoll.Engine{}},
	{"epoll-2loops", epoll.Engine{Loops: 2}},
}

const hello = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ask sends req on c and reads one response.
func ask(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, string, error) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		return nil, "", err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// TestMaxConnsReclaimsIdle: at --max-conns, connections that were answered
// and sit idle make room for newcomers (oldest first), as in nginx; only
// when every connection is busy is a newcomer refused.
func TestMaxConnsReclaimsIdle(t *testing.T) {
	root := conformance.Tree(t)
	for _, tc := range engines {
		t.Run(tc.name, func(t *testing.T) {
			srv := conformance.StartEngine(tc.e)(t, conformance.Options{Site: site.Config{Root: root}, Engine: engine.Config{MaxConns: 20}})
			var conns []net.Conn
			for i := 0; i < 25; i++ {
				c := dial(t, srv.Addr)
				conns = append(conns, c)
				resp, _, err := ask(t, c, bufio.NewReader(c), hello)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("kept-alive connection %d of 25 at --max-conns 20: %v %v, want 200", i, err, resp)
				}
			}
			c := dial(t, srv.Addr)
			resp, _, err := ask(t, c, bufio.NewReader(c), hello)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("newcomer beside 25 idle connections at --max-conns 20: %v %v, want 200", err, resp)
			}
			// Idle ones were closed to make room: at least 26-20 of them
			// (each loop closes its own oldest).
			conns = append(conns, c)
			closed := 0
			for _, c := range conns {
				if closedSoon(c, 200*time.Millisecond) {
					closed++
				}
			}
			if closed < 6 {
				t.Fatalf("%d of 26 connections closed at --max-conns 20, want at least 6", closed)
			}
		})
	}
}

// TestMaxConnsRefusesWhenBusy: with every connection in mid-request, a
// newcomer gets a 503, exactly (not a reset).
func TestMaxConnsRefusesWhenBusy(t *testing.T) {
	root := conformance.Tree(t)
	for _, tc := range engines {
		t.Run(tc.name, func(t *testing.T) {
			srv := conformance.StartEngine(tc.e)(t, conformance.Options{Site: site.Config{Root: root}, Engine: engine.Config{MaxConns: 4}})
			var busy []net.Conn
			for i := 0; i < 4; i++ {
				c := dial(t, srv.Addr)
				busy = append(busy, c)
				io.WriteString(c, "GET /hello.txt HTTP/1.1\r\n")
			}
			time.Sleep(300 * time.Millisecond) // let them be accepted first
			for i := 0; i < 3; i++ {
				c := dial(t, srv.Addr)
				resp, _, err := ask(t, c, bufio.NewReader(c), hello)
				if err != nil || resp.StatusCode != 503 {
					t.Fatalf("newcomer %d with 4 busy connections at --max-conns 4: %v %v, want 503", i, err, resp)
				}
			}
			for i, c := range busy {
				resp, _, err := ask(t, c, bufio.NewReader(c), "Host: t\r\n\r\n")
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("busy connection %d: %v %v, want 200", i, err, resp)
				}
			}
		})
	}
}

func closedSoon(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// TestDrainAnswersArrivedRequest: a request that reached the socket of an
// idle kept-alive connection just before shutdown is answered, not lost
// (run many times: the request and the drain race).
func TestDrainAnswersArrivedRequest(t *testing.T) {
	root := conformance.Tree(t)
	iters := 200
	if testing.Short() {
		iters = 20
	}
	for _, tc := range engines {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < iters; i++ {
				srv := conformance.StartEngine(tc.e)(t, conformance.Options{Site: site.Config{Root: root}})
				c := dial(t, srv.Addr)
				br := bufio.NewReader(c)
				if resp, _, err := ask(t, c, br, hello); err != nil || resp.StatusCode != 200 {
					t.Fatalf("first request: %v %v", err, resp)
				}
				io.WriteString(c, hello)
				stopped := make(chan error, 1)
				go func() { stopped <- srv.Stop() }()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("iteration %d: second request, sent before shutdown: %v", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil || string(body) != "hello, world\n" {
					t.Fatalf("iteration %d: %q %v", i, body, err)
				}
				c.Close() // else the drain gives the connection h1conn.DrainQuiet
				if err := <-stopped; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// blocker is a handler that blocks every request until released.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	b.entered <- struct{}{}
	<-b.release
	resp.Status = 200
	resp.Body = []byte("late\n")
}

// TestShutdownAbandonsStuckJob: a request stuck in the disk pool does not
// hold Serve past the shutdown timeout; its connection closes when the
// job returns.
func TestShutdownAbandonsStuckJob(t *testing.T) {
	b := &blocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{Handler: b, ShutdownTimeout: 300 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- epoll.Engine{}.Serve(ctx, ln, cfg.WithDefaults()) }()
	c := dial(t, ln.Addr().String())
	io.WriteString(c, hello)
	<-b.entered
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(b.release)
		t.Fatal("Serve still running 10s after shutdown began (timeout 300ms), held by a stuck pool job")
	}
	close(b.release)
	if !closedSoon(c, 5*time.Second) {
		t.Fatal("the abandoned connection was not closed once its job returned")
	}
}

// TestAbandonedJobReturnsAsLoopExits: a pool job abandoned by an exiting
// loop that returns while the loop still closes its other connections
// (see conformance.AbandonedHandlerReturnsAsLoopExits; run with -race).
func TestAbandonedJobReturnsAsLoopExits(t *testing.T) {
	conformance.AbandonedHandlerReturnsAsLoopExits(t, epoll.Engine{Loops: 1, Workers: 1})
}
