//go:build !race

package engine_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/epoll"
	"github.com/weft-server/weft/internal/engine/goroutine"
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/engine/poll"
	"github.com/weft-server/weft/internal/engine/uring"
	"github.com/weft-server/weft/internal/metrics"
	"github.com/weft-server/weft/internal/site"
)

// TestCachedGETAllocatesNothingOnTheWire checks the allocation claim
// through a real engine and a real socket: the engine runs in this
// process on a loopback listener, serving a cached 1 KiB file, and a
// client that itself allocates nothing per request (raw read and write
// system calls on a dialled descriptor, preallocated buffers) sends
// 20,000 keep-alive GETs one after the other. The whole process's
// allocation count (runtime.MemStats.Mallocs) may grow by less than 0.05
// per request: the engine's accept, the cache's once-a-second
// revalidation and the runtime's own background work are allowed for,
// one allocation per request is not. The race detector allocates, hence
// the build tag.
func TestCachedGETAllocatesNothingOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    engine.Engine
	}{
		{"epoll", epoll.Engine{Loops: 1, Workers: 1}},
		{"goroutine", goroutine.Engine{}},
		{"poll", poll.Engine{}},
		{"uring", uring.Engine{Loops: 1, Workers: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) { testWireAllocs(t, tc.e, "", site.Config{}, nil) })
		// Counting for metrics (per-loop counters, as --admin turns on)
		// allocates nothing either.
		t.Run(tc.name+"/metrics", func(t *testing.T) { testWireAllocs(t, tc.e, "", site.Config{}, metrics.New()) })
		// A cached compressed GET costs what a plain one does: the
		// variant is chosen among ready ones, pre-rendered like identity.
		t.Run(tc.name+"/br", func(t *testing.T) { testWireAllocs(t, tc.e, "br", site.Config{}, nil) })
		// So does one with the site's header and cache-policy rules on:
		// they are folded into the entry's pre-rendered head.
		t.Run(tc.name+"/rules", func(t *testing.T) { testWireAllocs(t, tc.e, "br", wireRules, nil) })
	}
}

// wireRules are the rules of a site that touch every cached GET.
var wireRules = site.Config{
	Security:     true,
	Headers:      []site.HeaderRule{{For: "/**", Set: map[string]string{"X-Served-By": "weft"}}, {For: "*.html", Remove: []string{"X-Frame-Options"}}},
	CacheControl: []site.CacheRule{{Glob: "*.html", Value: "public, max-age=60"}},
	CORS:         &site.CORS{Origins: []string{"https://app.example"}},
	Redirects:    []site.Redirect{{From: "/old/**", To: "/new/:splat"}},
}

func testWireAllocs(t *testing.T, e engine.Engine, coding string, cfg site.Config, counters *metrics.Counters) {
	const n = 20000
	dir := t.TempDir()
	body := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789\n"), 28)[:1024]
	if err := os.WriteFile(filepath.Join(dir, "index.html"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Root = dir
	opts := conformance.Options{Site: cfg}
	if counters != nil {
		opts.Engine.Meters = func(loop int) h1conn.Meter { return counters.Shard(loop) }
	}
	srv := conformance.StartEngine(e)(t, opts)

	fd := dialRaw(t, srv.Addr)
	defer unix.Close(fd)
	req := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: wire\r\nAccept: */*\r\n\r\n")
	if coding != "" {
		req = []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: wire\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n")
	}
	buf := make([]byte, 64<<10)

	// Warm up: the first answer fills the cache (and starts the build
	// of the variant: identity is sent until it is ready) and gives the
	// length of every answer (the Date header has a fixed width); then
	// a few hundred more let the engine's buffers and the runtime settle.
	size := firstResponse(t, fd, req, buf)
	for i := 0; coding != "" && !bytes.Contains(buf[:size], []byte("\r\nContent-Encoding: "+coding+"\r\n")); i++ {
		if i == 500 {
			t.Fatalf("no %s variant after %d requests: %q", coding, i, buf[:min(size, 300)])
		}
		time.Sleep(10 * time.Millisecond)
		size = firstResponse(t, fd, req, buf)
	}
	for i := 0; i < 500; i++ {
		exchange(t, fd, req, buf, size)
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		exchange(t, fd, req, buf, size)
	}
	runtime.ReadMemStats(&after)
	if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
		t.Fatalf("last answer: %q", buf[:min(size, 200)])
	}
	if cfg.Security && !bytes.Contains(buf[:size], []byte("\r\nX-Served-By: weft\r\nAccept-Ranges")) {
		t.Fatalf("last answer without the rules' header: %q", buf[:min(size, 800)])
	}
	if counters != nil {
		sn := counters.Snapshot()
		if got := sn.Requests[1][0][1]; got < n { // HTTP/1.1 GET 2xx
			t.Fatalf("counted %d GETs, want at least %d", got, n)
		}
		if sn.Open() != 1 || sn.Opened != 1 {
			t.Fatalf("%d connections open, %d accepted; want 1 and 1", sn.Open(), sn.Opened)
		}
	}
	per := float64(after.Mallocs-before.Mallocs) / n
	t.Logf("%d allocations in the process over %d cached GETs on the wire (%.4f per request)", after.Mallocs-before.Mallocs, n, per)
	if per >= 0.05 {
		t.Fatalf("%.3f allocations per cached GET through the engine and a socket, want < 0.05", per)
	}
}

// dialRaw connects a blocking TCP socket to addr with raw system calls.
func dialRaw(t *testing.T, addr string) int {
	t.Helper()
	ap, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	// A stalled server fails the test instead of hanging it.
	tv := unix.Timeval{Sec: 20}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

// firstResponse sends req and reads one whole answer (head, then a body
// of Content-Length bytes), returning its size.
func firstResponse(t *testing.T, fd int, req, buf []byte) int {
	t.Helper()
	writeAll(t, fd, req)
	got := 0
	for {
		m, err := unix.Read(fd, buf[got:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			t.Fatalf("reading the first answer after %q: %d, %v", buf[:got], m, err)
		}
		got += m
		head := bytes.Index(buf[:got], []byte("\r\n\r\n"))
		if head < 0 {
			continue
		}
		if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
			t.Fatalf("first answer: %q", buf[:got])
		}
		i := bytes.Index(buf[:head], []byte("\r\nContent-Length: "))
		if i < 0 {
			t.Fatalf("no Content-Length in %q", buf[:head])
		}
		v := buf[i+len("\r\nContent-Length: "):]
		cl, err := strconv.Atoi(string(v[:bytes.IndexByte(v, '\r')]))
		if err != nil {
			t.Fatal(err)
		}
		size := head + 4 + cl
		for got < size {
			m, err := unix.Read(fd, buf[got:])
			if err == unix.EINTR {
				continue
			}
			if err != nil || m == 0 {
				t.Fatalf("reading the first answer's body: %d, %v", m, err)
			}
			got += m
		}
		if got != size {
			t.Fatalf("%d bytes after a %d-byte answer", got-size, size)
		}
		return size
	}
}

// exchange sends req and reads exactly size bytes of answer, allocating
// nothing on success (an interrupted call is retried: EINTR boxes into an
// error without allocating).
func exchange(t *testing.T, fd int, req, buf []byte, size int) {
	writeAll(t, fd, req)
	for got := 0; got < size; {
		m, err := unix.Read(fd, buf[got:size])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			t.Fatalf("read after %d of %d bytes: %d, %v", got, size, m, err)
		}
		got += m
	}
}

func writeAll(t *testing.T, fd int, b []byte) {
	for len(b) > 0 {
		m, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		b = b[m:]
	}
}
