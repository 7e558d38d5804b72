//go:build linux

package process_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/site"
)

var dateHeader = regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)

// TestReloadRawClientsLoseNothing is the reload claim attacked with clients
// that never retry: 32 keep-alive connections, each writing a request and
// reading its whole answer in a loop, across 20 SIGHUP reloads. A
// connection the server closed before the next request was written (EOF
// pending, or an answer with Connection: close) is reopened and costs
// nothing; a request written and not answered in full is lost. Every
// answer must be byte-for-byte the expected one (Date aside).
func TestReloadRawClientsLoseNothing(t *testing.T) {
	for _, inner := range []string{"epoll", "goroutine"} {
		t.Run(inner, func(t *testing.T) { testReloadRaw(t, inner) })
	}
}

func testReloadRaw(t *testing.T, inner string) {
	const conns, reloads, workers = 32, 20, 2
	srv := start(t, workers, "--worker-engine", inner)
	waitFor(t, "the workers", func() bool { return len(children(t, srv.PID)) == workers })
	paths := []string{"/hello.txt", "/data.bin"}
	want := map[string]string{}
	for _, p := range paths {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", p)
		raw, _, err := conformance.ReadResponse(bufio.NewReader(c))
		c.Close()
		if err != nil || !strings.HasPrefix(raw, "HTTP/1.1 200 ") {
			t.Fatalf("GET %s: %q, %v", p, raw, err)
		}
		want[p] = dateHeader.ReplaceAllString(raw, "Date: -\r")
	}

	var answered, lost, reopened atomic.Int64
	var mu sync.Mutex
	var firstLost []string
	kinds := map[string]int{} // lost requests by kind, for the log
	loseOne := func(kind, what string) {
		lost.Add(1)
		mu.Lock()
		kinds[kind]++
		if len(firstLost) < 5 {
			firstLost = append(firstLost, what)
		}
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		rc := &conformance.RawClient{
			Addr:      srv.Addr,
			KeepAlive: true,
			Path:      func(n int) string { return paths[(i+n)%len(paths)] },
			Answered: func(p, raw string, _, _ time.Time) {
				got := dateHeader.ReplaceAllString(raw, "Date: -\r")
				got = strings.Replace(got, "Connection: close\r\n", "", 1)
				if got != want[p] {
					loseOne("wrong answer", fmt.Sprintf("GET %s: wrong answer %q", p, raw))
				} else {
					answered.Add(1)
				}
			},
			Lost:   loseOne,
			Opened: func() { reopened.Add(1) },
		}
		go func() {
			defer wg.Done()
			rc.Run(stop)
		}()
	}
	for r := 0; r < reloads; r++ {
		prev := children(t, srv.PID)
		if err := syscall.Kill(srv.PID, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "old workers gone after SIGHUP", func() bool {
			for _, p := range prev {
				if alive(p) {
					return false
				}
			}
			return len(children(t, srv.PID)) == workers
		})
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d answers, %d lost %v, %d connections opened, across %d reloads", answered.Load(), lost.Load(), kinds, reopened.Load(), reloads)
	if lost.Load() != 0 {
		t.Errorf("%d requests lost across %d reloads; first: %q", lost.Load(), reloads, firstLost)
	}
	if answered.Load() < 1000 {
		t.Errorf("only %d answers", answered.Load())
	}
}

// hugeSize is the size of huge.bin: far more than the socket buffers
// between a server and a client (4 MiB at most here) hold, so that its
// download keeps the server writing until the client reads.
const hugeSize = 32 << 20

func hugeByte(i int) byte { return byte('a' + i%23) }

// startHuge starts the prefork server on a tree that also holds huge.bin.
func startHuge(t *testing.T, workers int, extra ...string) *conformance.Server {
	root := conformance.Tree(t)
	b := make([]byte, hugeSize)
	for i := range b {
		b[i] = hugeByte(i)
	}
	if err := os.WriteFile(filepath.Join(root, "huge.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--engine", "process", "--workers", strconv.Itoa(workers)}, extra...)
	return conformance.StartBinary(bin, args...)(t, conformance.Options{Site: site.Config{Root: root}})
}

// slowDownload starts GET /huge.bin on a connection with a small receive
// window and reads nothing yet, so that the server is kept busy writing
// it. The returned function reads the rest and checks every byte.
func slowDownload(t *testing.T, addr string) (net.Conn, func() error) {
	c := conformance.DialSmallWindow(t, addr, 4096)
	if _, err := io.WriteString(c, "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 1024)
	head, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "HTTP/1.1 200 ") {
		t.Fatalf("download: %q, %v", head, err)
	}
	return c, func() error {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		raw, _, err := conformance.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(head), br)))
		if err != nil {
			return err
		}
		_, body, _ := strings.Cut(raw, "\r\n\r\n")
		if len(body) != hugeSize {
			return fmt.Errorf("download body: %d bytes of %d", len(body), hugeSize)
		}
		for i := 0; i < len(body); i++ {
			if body[i] != hugeByte(i) {
				return fmt.Errorf("download body differs at byte %d", i)
			}
		}
		return nil
	}
}

// TestNoOrphansAfterReload: after SIGHUP then SIGTERM, no worker of either
// generation outlives the supervisor, even one still draining a download
// when the supervisor is told to stop.
func TestNoOrphansAfterReload(t *testing.T) {
	srv := startHuge(t, 2, "--shutdown-timeout", "2s")
	var old []int
	waitFor(t, "2 workers", func() bool { old = children(t, srv.PID); return len(old) == 2 })
	c, _ := slowDownload(t, srv.Addr) // on an old worker: it drains slowly
	defer c.Close()
	if err := syscall.Kill(srv.PID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, k := range old {
		seen[k] = true
	}
	waitFor(t, "the new workers", func() bool {
		for _, k := range children(t, srv.PID) {
			seen[k] = true
		}
		return len(seen) >= 4
	})
	var all []int
	for k := range seen {
		all = append(all, k)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if alive(k) {
			t.Errorf("worker %d outlived the supervisor", k)
			syscall.Kill(k, syscall.SIGKILL)
		}
	}
}

// TestStopRefusesNewClients: after SIGTERM the shared socket stops
// listening at once, so a new client is refused rather than left in the
// backlog until the server exits, while a download in flight completes.
func TestStopRefusesNewClients(t *testing.T) {
	srv := startHuge(t, 2, "--shutdown-timeout", "60s")
	waitFor(t, "2 workers", func() bool { return len(children(t, srv.PID)) == 2 })
	c, finish := slowDownload(t, srv.Addr)
	defer c.Close()
	if err := syscall.Kill(srv.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	refused := false
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !refused; time.Sleep(50 * time.Millisecond) {
		nc, err := net.DialTimeout("tcp", srv.Addr, 2*time.Second)
		if err != nil {
			refused = errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
			last = err.Error()
			continue
		}
		// Accepted into a backlog: it must not wait there.
		io.WriteString(nc, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
		nc.SetReadDeadline(time.Now().Add(time.Second))
		_, err = nc.Read(make([]byte, 1))
		nc.Close()
		last = fmt.Sprint("connected; then ", err)
	}
	if !refused {
		t.Errorf("new clients were not refused within 10s of SIGTERM (last: %s)", last)
	}
	if !alive(srv.PID) {
		t.Fatal("the server exited before the download finished")
	}
	if err := finish(); err != nil {
		t.Errorf("the download in flight at SIGTERM: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Error(err)
	}
}

// TestNoOrphansStopDuringReload: SIGTERM right behind SIGHUP, so that the
// stop finds the supervisor starting the new generation: every worker
// ever seen is gone once the supervisor has exited.
func TestNoOrphansStopDuringReload(t *testing.T) {
	srv := startHuge(t, 2, "--shutdown-timeout", "2s")
	waitFor(t, "2 workers", func() bool { return len(children(t, srv.PID)) == 2 })
	c, _ := slowDownload(t, srv.Addr)
	defer c.Close()
	seen := map[int]bool{}
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() { // every child the supervisor has, until it exits
		defer close(watched)
		for {
			for _, k := range children(t, srv.PID) {
				seen[k] = true
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	syscall.Kill(srv.PID, syscall.SIGHUP)
	time.Sleep(5 * time.Millisecond) // the signal goes through the server to the supervisor
	err := srv.Stop()
	close(done)
	<-watched
	if err != nil {
		t.Fatal(err)
	}
	for k := range seen {
		if alive(k) {
			t.Errorf("worker %d outlived the supervisor", k)
			syscall.Kill(k, syscall.SIGKILL)
		}
	}
	t.Logf("%d workers seen", len(seen))
}
