//go:build linux

package epoll_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/epoll"
	"github.com/weft-server/weft/internal/engine/evloop"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

// faulty is an epoll poller with faults switched on by the test.
type faulty struct {
	*netpoll.Epoll
	failAdd  atomic.Bool
	failWait atomic.Bool
}

var errInjected = errors.New("injected fault")

func (p *faulty) Add(fd int) error {
	if p.failAdd.Load() {
		return unix.ENOSPC
	}
	return p.Epoll.Add(fd)
}

func (p *faulty) Wait(timeout time.Duration, fn func(fd int, in, out, hup bool)) error {
	if p.failWait.Load() {
		return errInjected
	}
	return p.Epoll.Wait(timeout, fn)
}

type slowHandler struct{ gate chan struct{} }

func (h slowHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	<-h.gate
	resp.Status = 200
	resp.Body = []byte("ok\n")
}

func serve(t *testing.T, e epoll.Engine, h http1.Handler) (addr string, cancel func(), done chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	cfg := engine.Config{Handler: h, ShutdownTimeout: time.Second}
	go func() { done <- e.Serve(ctx, ln, cfg.WithDefaults()) }()
	return ln.Addr().String(), cancel, done
}

func waitServe(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// TestPartialStart: the second loop's poller cannot be made; Serve
// returns that error without a panic and without leaving a loop running.
func TestPartialStart(t *testing.T) {
	var made atomic.Int32
	e := epoll.Engine{Loops: 3, NewPoller: func() (evloop.Poller, error) {
		if made.Add(1) > 1 {
			return nil, errInjected
		}
		p, err := netpoll.NewEpoll()
		return &faulty{Epoll: p}, err
	}}
	addr, cancel, done := serve(t, e, slowHandler{gate: make(chan struct{})})
	defer cancel()
	if err := waitServe(t, done); !errors.Is(err, errInjected) {
		t.Fatalf("Serve: %v, want the poller's error", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("listener still open after a failed start")
	}
}

// TestWaitErrorClosesConnections: a loop whose poller fails closes its
// connections (they do not leak) and Serve returns the error.
func TestWaitErrorClosesConnections(t *testing.T) {
	made := make(chan *faulty, 1)
	e := epoll.Engine{Loops: 1, NewPoller: func() (evloop.Poller, error) {
		ep, err := netpoll.NewEpoll()
		f := &faulty{Epoll: ep}
		made <- f
		return f, err
	}}
	gate := make(chan struct{})
	close(gate)
	addr, cancel, done := serve(t, e, slowHandler{gate: gate})
	defer cancel()
	p := <-made
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	p.failWait.Store(true)
	p.Wake()
	if err := waitServe(t, done); !errors.Is(err, errInjected) {
		t.Fatalf("Serve: %v, want the poller's error", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("kept-alive connection of a failed loop: %v, want it closed (EOF)", err)
	}
}

// TestAddFailsWhileOffloaded: the poller refuses a new connection whose
// request is already with the pool; the connection is not closed under
// the worker, and the answer still reaches the client before the close.
func TestAddFailsWhileOffloaded(t *testing.T) {
	made := make(chan *faulty, 1)
	e := epoll.Engine{Loops: 1, NewPoller: func() (evloop.Poller, error) {
		ep, err := netpoll.NewEpoll()
		f := &faulty{Epoll: ep}
		made <- f
		return f, err
	}}
	gate := make(chan struct{})
	addr, cancel, done := serve(t, e, slowHandler{gate: gate})
	defer func() { cancel(); waitServe(t, done) }()
	p := <-made
	p.failAdd.Store(true)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // accepted, offloaded, Add failed
	close(gate)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("request offloaded before the poller refused its connection: %v, want its answer", err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
