//go:build linux

package epoll_test

import (
	"bufio"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/site"
)

// Test10kKeepAlive holds 10,000 keep-alive connections open at once, each
// having been answered, and checks that every one still works and that a
// newcomer is served promptly. The server runs as its own process so each
// side has its own descriptor limit.
func Test10kKeepAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const n = 10000
	// Each side needs n descriptors and a few more; the server process
	// inherits this limit. Raising the hard limit needs root, as in CI.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < n+1000 {
		want := syscall.Rlimit{Cur: n + 5000, Max: max(lim.Max, n+5000)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			t.Fatalf("need %d descriptors, have %d and cannot raise the limit: %v", n+1000, lim.Cur, err)
		}
		defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	bin, cleanup, err := conformance.BuildBinary("../../..")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	root := conformance.Tree(t)
	srv := conformance.StartBinary(bin, "--engine", "epoll", "--max-conns", "12000")(t, conformance.Options{Site: site.Config{Root: root}})

	req := "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
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
	for i, c := range conns {
		readOne(i, c)
	}
	if fds := countFDs(srv.PID); fds >= 0 && fds < n {
		t.Fatalf("server holds %d descriptors with %d connections open", fds, n)
	}
	// A newcomer is served while the 10,000 stay open.
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
