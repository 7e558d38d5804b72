package thread

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/netpoll"
	"github.com/weft-server/weft/internal/site"
)

// TestShutdownAnswersHalfReceivedRequest: a client that has sent half a
// head when graceful shutdown begins sends the rest and is answered, with
// Connection: close.
func TestShutdownAnswersHalfReceivedRequest(t *testing.T) {
	srv := conformance.StartEngine(Engine{})(t, conformance.Options{Site: site.Config{Root: conformance.Tree(t)}})
	c, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	// Answered once, so that shutdown kicks it rather than waiting for
	// a first request.
	io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	io.WriteString(c, "GET /hello.txt HTTP/1.1\r\n")
	time.Sleep(100 * time.Millisecond) // the half head has arrived
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()
	time.Sleep(700 * time.Millisecond) // the accept loop notices (250 ms) and the drain kicks
	io.WriteString(c, "Host: t\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("request half received when shutdown began: %v, want its answer", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "hello, world\n" || !resp.Close {
		t.Fatalf("answer %q, %v, close=%v; want the file and Connection: close", body, err, resp.Close)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAcceptAbortDoesNotPause: clients that reset before they are
// accepted (ECONNABORTED) do not pause accepting for everyone; running out
// of descriptors (EMFILE) does.
func TestAcceptAbortDoesNotPause(t *testing.T) {
	var fail atomic.Int32
	var failWith atomic.Value
	accept = func(lfd int, nonblocking bool) (int, netip.AddrPort, error) {
		if fail.Add(-1) >= 0 {
			return -1, netip.AddrPort{}, failWith.Load().(error)
		}
		return netpoll.Accept(lfd, nonblocking)
	}
	t.Cleanup(func() { accept = netpoll.Accept }) // after the server stops
	var logs logBuf
	srv := conformance.StartEngine(Engine{})(t, conformance.Options{
		Site:   site.Config{Root: conformance.Tree(t)},
		Engine: engine.Config{ErrorLog: slog.New(slog.NewTextHandler(&logs, nil))},
	})
	get := func() {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", err, resp)
		}
	}
	failWith.Store(error(unix.ECONNABORTED))
	fail.Store(5)
	get()
	if s := logs.String(); bytes.Contains([]byte(s), []byte("pausing")) {
		t.Fatalf("ECONNABORTED paused accepting:\n%s", s)
	}
	failWith.Store(error(unix.EMFILE))
	fail.Store(1)
	get()
	if s := logs.String(); !bytes.Contains([]byte(s), []byte("pausing")) {
		t.Fatalf("EMFILE did not pause accepting: %q", s)
	}
}

// TestKillSparesReusedDescriptor: a connection's descriptor number, once
// closed, may go to another socket at once; shutdown's kill must not reach
// it.
func TestKillSparesReusedDescriptor(t *testing.T) {
	var pair [2]int
	reused := make(chan bool, 1)
	proceed := make(chan struct{})
	var once sync.Once
	testHookClosed = func() {
		once.Do(func() {
			// Take the number just freed, as another connection or file
			// would, then let shutdown run its course.
			p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				reused <- false
				return
			}
			pair = p
			reused <- true
			<-proceed
		})
	}
	t.Cleanup(func() { testHookClosed = nil }) // after the server stops
	srv := conformance.StartEngine(Engine{})(t, conformance.Options{
		Site:   site.Config{Root: conformance.Tree(t)},
		Engine: engine.Config{ShutdownTimeout: 100 * time.Millisecond},
	})
	c, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	c.Close() // the server closes its side: the hook takes the number
	if !<-reused {
		t.Fatal("socketpair")
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()
	time.Sleep(time.Second) // shutdown waits out its 100 ms timeout, then kills
	close(proceed)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// The socket that got the number still works both ways.
	if _, err := unix.Write(pair[1], []byte("x")); err != nil {
		t.Fatalf("write to the peer: %v", err)
	}
	buf := make([]byte, 1)
	if n, err := unix.Read(pair[0], buf); n != 1 || err != nil {
		t.Fatalf("the reused descriptor was shut down by the engine: read %d, %v", n, err)
	}
	if _, err := unix.Write(pair[0], []byte("y")); err != nil {
		t.Fatalf("the reused descriptor was shut down by the engine: write: %v", err)
	}
}
