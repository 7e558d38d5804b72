//go:build linux

package conformance

import (
	"bufio"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/site"
)

// KeepAliveBound is the most an answered idle keep-alive connection may
// add to an event loop server's resident set, its Go heap's slack
// included: a few hundred bytes of state, no buffers.
const KeepAliveBound = 2048

// KeepAliveMany holds n keep-alive connections open at once on weft
// (built from the module at root) running engine eng, each having been
// answered, and checks that every one still works, that a newcomer is
// served promptly, and that the server's resident set grew by at most
// KeepAliveBound per connection held (not checked under the race
// detector, whose shadow memory is counted too). The server runs as its own process
// so each side has its own descriptor limit; the caller must be able to
// raise its own to n plus a few thousand (root, as in CI).
func KeepAliveMany(t *testing.T, root, eng string, n int) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin, cleanup, err := BuildBinary(root)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	// Each side needs n descriptors and a few more; the server process
	// inherits this limit. Raising the hard limit needs root, as in CI.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < uint64(n)+1000 {
		want := syscall.Rlimit{Cur: uint64(n) + 5000, Max: max(lim.Max, uint64(n)+5000)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			t.Fatalf("need %d descriptors, have %d and cannot raise the limit: %v", n+1000, lim.Cur, err)
		}
		defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	srv := StartBinary(bin, "--engine", eng, "--max-conns", strconv.Itoa(n+2000))(t, Options{Site: site.Config{Root: Tree(t)}})
	req := "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
	readOne := func(i int, c net.Conn) {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReaderSize(c, 512)
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 200 OK\r\n" {
			t.Fatalf("connection %d: %q, %v", i, line, err)
		}
		// Skip the rest of the response: head then 13 bytes of body.
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			if l == "\r\n" {
				break
			}
		}
		if _, err := io.ReadFull(br, make([]byte, len("hello, world\n"))); err != nil {
			t.Fatalf("connection %d body: %v", i, err)
		}
	}
	// One request first, so that what every server grows once (code
	// paged in, the cache entry, pools) is not counted per connection.
	warm, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(warm, req)
	readOne(-1, warm)
	warm.Close()
	before := procStatus(t, srv.PID, "VmRSS")
	conns := DialMany(t, srv.Addr, n, req)
	for i, c := range conns {
		readOne(i, c)
	}
	grew := procStatus(t, srv.PID, "VmRSS") - before
	perConn := float64(grew) / float64(n)
	t.Logf("%s: resident set grew %d KiB for %d answered idle connections (%.0f bytes each)", eng, grew>>10, n, perConn)
	bound := float64(KeepAliveBound)
	if raceEnabled {
		// The race detector's shadow memory is part of the resident
		// set: a bound for it would hide a buffer per connection.
		bound = math.Inf(1)
	}
	if perConn > bound {
		t.Errorf("%.0f bytes of resident set per idle connection, want at most %d", perConn, KeepAliveBound)
	}
	if fds := countFDs(srv.PID); fds >= 0 && fds < n {
		t.Fatalf("server holds %d descriptors with %d connections open", fds, n)
	}
	// A newcomer is served while the n stay open.
	start := time.Now()
	c, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, req)
	readOne(-1, c)
	c.Close()
	t.Logf("newcomer served in %v beside %d open connections", time.Since(start), n)
	// Every old connection still answers a second request.
	for i := 0; i < n; i += 97 {
		io.WriteString(conns[i], req)
		readOne(i, conns[i])
	}
}

// DialMany opens n connections to addr, writing req (if not empty) on
// each as it opens; the test's end closes them.
func DialMany(t *testing.T, addr string, n int, req string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if req == "" {
			continue
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	return conns
}

// countFDs counts the sockets process pid holds open.
func countFDs(pid int) int {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	total := 0
	for _, f := range fds {
		if l, err := os.Readlink(dir + f.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			total++
		}
	}
	return total
}

// MaxConnsAcrossLoops: many loops accepting at once never hold more than
// --max-conns connections: clients arriving together, all busy (half a
// head sent), are served up to the limit and refused beyond it. start
// runs an engine with several loops.
func MaxConnsAcrossLoops(t *testing.T, start Starter) {
	const limit, clients = 2, 64
	srv := start(t, Options{
		Site:   site.Config{Root: Tree(t)},
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
