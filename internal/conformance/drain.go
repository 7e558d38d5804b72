package conformance

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/site"
)

// drainAnswersArrived: a graceful shutdown (or a prefork reload, which is
// one for the old workers) must not drop a request the kernel has already
// accepted on a kept-alive connection that looked idle: the client cannot
// tell that loss from a failure, and a client that does not retry loses
// the request. Every round sends a second request, then at once begins
// the shutdown; the second request must be answered in full (with
// Connection: close, unless the server answered it before the shutdown
// reached the connection).
func (s *suite) drainAnswersArrived(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	for i := 0; i < rounds; i++ {
		srv := s.start(t, Options{Site: site.Config{Root: s.root}})
		if srv.PID != 0 {
			rounds = min(rounds, 5) // a server process of its own takes a second or two to start
		}
		c := dial(t, srv.Addr)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, get("/hello.txt"))
		if _, err := readResp(br, "GET"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, get("/index.html")); err != nil {
			t.Fatal(err)
		}
		stopped := make(chan error, 1)
		t0 := time.Now()
		go func() { stopped <- srv.Stop() }()
		r, err := readResp(br, "GET")
		if err != nil {
			t.Fatalf("round %d: a request sent before the shutdown began was dropped: %v (%v after the stop began)", i, err, time.Since(t0))
		}
		wantStatus(t, r, 200)
		if r.Body != indexHTML {
			t.Fatalf("round %d: body %q", i, r.Body)
		}
		c.Close()
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
	}
}

// stopsListening: once a graceful shutdown begins, a newcomer is refused at
// once (not left in a backlog that nobody accepts from, to be reset when
// the server exits), while a download in flight completes.
func (s *suite) stopsListening(t *testing.T) {
	root := t.TempDir()
	// Larger than every buffer between server and client, so the download
	// is still in flight while the test dials.
	const size = 64 << 20
	must(t, os.WriteFile(filepath.Join(root, "huge.bin"), make([]byte, size), 0o644))
	srv := s.start(t, Options{Site: site.Config{Root: root}})
	dl := DialSmallWindow(t, srv.Addr, 4096)
	defer dl.Close()
	br, stopped := stopDuringDownload(t, srv, dl, "/huge.bin")
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", srv.Addr, time.Second)
		if isTimeout(err) {
			// A stall of this process on a loaded machine (the
			// race detector, other packages' tests) can outlast
			// the dial's deadline whatever the kernel answered:
			// not an answer either way, so dial again. A server
			// that never refuses still fails below.
			continue
		}
		if err != nil {
			// Refused, or reset at once by a listener that closed
			// with the newcomer in its backlog: either way the client
			// knows at once.
			if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("dial after shutdown began: %v, want connection refused", err)
			}
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Fatal("newcomers still accepted (or left unanswered) 5s after shutdown began")
	}
	dl.SetReadDeadline(time.Now().Add(30 * time.Second))
	r, err := readResp(br, "GET")
	if err != nil {
		t.Fatalf("download in flight: %v", err)
	}
	if len(r.Body) != size {
		t.Fatalf("download in flight: %d bytes, want %d", len(r.Body), size)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// stopDuringDownload asks dl for path, waits for the answer to begin, then
// begins srv's graceful shutdown. It returns the reader the rest of the
// answer comes through and the channel Stop's result arrives on.
func stopDuringDownload(t *testing.T, srv *Server, dl net.Conn, path string) (*bufio.Reader, chan error) {
	t.Helper()
	io.WriteString(dl, get(path))
	br := bufio.NewReaderSize(dl, 1024)
	dl.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.Peek(100); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()
	return br, stopped
}
