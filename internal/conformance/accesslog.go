package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// logged is a record as the access log got it, copied.
type logged struct {
	Method, Target string
	Status         int
	Bytes, Sent    int64
	Duration       time.Duration
}

// logSink keeps every record, for the access log cases.
type logSink struct {
	mu   sync.Mutex
	recs []logged
	used []bool
}

func (l *logSink) Log(r *http1.Record) {
	l.mu.Lock()
	l.recs = append(l.recs, logged{Method: string(r.Method), Target: string(r.Target), Status: r.Status,
		Bytes: r.Bytes, Sent: r.Sent, Duration: r.Duration})
	l.used = append(l.used, false)
	l.mu.Unlock()
}

// next waits for the first record of method and target not taken yet and
// takes it.
func (l *logSink) next(t *testing.T, method, target string) logged {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		for i, r := range l.recs {
			if !l.used[i] && r.Method == method && r.Target == target {
				l.used[i] = true
				l.mu.Unlock()
				return r
			}
		}
		l.mu.Unlock()
	}
	t.Fatalf("no access log record of %s %s", method, target)
	return logged{}
}

// wire is what a client read of one response, to the connection's end.
type wire struct {
	total int64  // every byte
	head  int64  // of the head
	body  []byte // the body as framed on the wire
}

// exchangeAll sends raw on a connection of its own and reads until the
// server closes it.
func exchangeAll(t *testing.T, addr, raw string) wire {
	t.Helper()
	c := send(t, addr, raw, 30*time.Second)
	defer c.Close()
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%s: %v", firstLine(raw), err)
	}
	i := bytes.Index(all, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("%s: no head in %q", firstLine(raw), all)
	}
	return wire{total: int64(len(all)), head: int64(i + 4), body: all[i+4:]}
}

func (s *suite) accessLog(t *testing.T) {
	root := t.TempDir()
	const hugeSize = 1 << 30
	files := map[string]string{
		"hello.txt":      helloTxt,
		"big.bin":        strings.Repeat("0123456789abcdef", 1<<16), // 1 MiB: beyond the cache, sent with sendfile
		"folder/a.txt":   strings.Repeat("a", 5000),
		"folder/b/c.bin": strings.Repeat("\x00\x01", 40000),
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
	}
	must(t, os.Truncate(mkfile(t, filepath.Join(root, "huge.bin")), hugeSize)) // sparse
	log := &logSink{}
	srv := s.start(t, Options{Site: site.Config{Root: root, Listing: true}, Engine: engine.Config{Log: log}})

	// check compares a record with what the client read: the body bytes
	// (body on the wire, unframed) and every byte.
	check := func(t *testing.T, r logged, status int, body int64, w wire) {
		t.Helper()
		if r.Status != status || r.Bytes != body || r.Sent != w.total || r.Duration < 0 {
			t.Errorf("%s %s: logged status %d, body bytes %d, bytes %d, duration %v; want %d, %d, %d (the wire's), >= 0",
				r.Method, r.Target, r.Status, r.Bytes, r.Sent, r.Duration, status, body, w.total)
		}
	}

	// Each request has a target of its own, and the records are awaited
	// once all are sent: a prefork engine's workers flush their logs
	// apart, each once a second.
	t.Run("Full", func(t *testing.T) {
		var ws []wire
		for i, p := range []string{"/hello.txt", "/hello.txt", "/big.bin"} { // from disk, from the cache, with sendfile
			ws = append(ws, exchangeAll(t, srv.Addr, get(fmt.Sprintf("%s?full%d", p, i), "Connection: close")))
		}
		ws = append(ws, exchangeAll(t, srv.Addr, "GET /hello.txt?full10 HTTP/1.0\r\n\r\n"))
		ws = append(ws, exchangeAll(t, srv.Addr, get("/big.bin?range", "Range: bytes=10-109", "Connection: close")))
		for i, p := range []string{"/hello.txt", "/hello.txt", "/big.bin"} {
			r := log.next(t, "GET", fmt.Sprintf("%s?full%d", p, i))
			check(t, r, 200, int64(len(files[p[1:]])), ws[i])
			if int64(len(ws[i].body)) != int64(len(files[p[1:]])) {
				t.Errorf("%s: read %d body bytes, want %d", p, len(ws[i].body), len(files[p[1:]]))
			}
			if p == "/big.bin" && r.Duration <= 0 {
				t.Errorf("%s: duration %v, want it positive", p, r.Duration)
			}
		}
		check(t, log.next(t, "GET", "/hello.txt?full10"), 200, int64(len(helloTxt)), ws[3])
		check(t, log.next(t, "GET", "/big.bin?range"), 206, 100, ws[4])
	})

	t.Run("HeadAndNotModified", func(t *testing.T) {
		head := exchangeAll(t, srv.Addr, req("HEAD", "/big.bin", "Connection: close"))
		etag := one(t, srv.Addr, get("/hello.txt?etag")).Header.Get("ETag")
		cond := exchangeAll(t, srv.Addr, get("/hello.txt?cond", "If-None-Match: "+etag, "Connection: close"))
		missing := exchangeAll(t, srv.Addr, get("/missing", "Connection: close"))
		check(t, log.next(t, "HEAD", "/big.bin"), 200, 0, head)
		check(t, log.next(t, "GET", "/hello.txt?cond"), 304, 0, cond)
		check(t, log.next(t, "GET", "/missing"), 404, missing.total-missing.head, missing)
	})

	t.Run("Pipelined", func(t *testing.T) {
		w := exchangeAll(t, srv.Addr, get("/hello.txt")+get("/big.bin")+req("HEAD", "/hello.txt")+get("/hello.txt", "Connection: close"))
		var sent int64
		for _, want := range []struct {
			method, target string
			body           int64
		}{{"GET", "/hello.txt", int64(len(helloTxt))}, {"GET", "/big.bin", 1 << 20}, {"HEAD", "/hello.txt", 0}, {"GET", "/hello.txt", int64(len(helloTxt))}} {
			r := log.next(t, want.method, want.target)
			if r.Status != 200 || r.Bytes != want.body || r.Sent <= r.Bytes {
				t.Errorf("%s %s: logged status %d, body bytes %d, bytes %d; want 200, %d and more", want.method, want.target, r.Status, r.Bytes, r.Sent, want.body)
			}
			sent += r.Sent
		}
		if sent != w.total {
			t.Errorf("the four records sum to %d bytes, the wire had %d", sent, w.total)
		}
	})

	t.Run("Zip", func(t *testing.T) {
		// Streamed with chunks over HTTP/1.1 (the framing is not the
		// body's), delimited by the close over HTTP/1.0.
		var ws []wire
		for _, raw := range []string{get("/folder/?download=zip", "Connection: close"), "GET /folder/?download=zip&v=1.0 HTTP/1.0\r\n\r\n"} {
			ws = append(ws, exchangeAll(t, srv.Addr, raw))
		}
		for i, target := range []string{"/folder/?download=zip", "/folder/?download=zip&v=1.0"} {
			w := ws[i]
			zip := w.body
			if i == 0 { // chunked
				var b strings.Builder
				if err := readChunked(bufio.NewReader(bytes.NewReader(w.body)), &b); err != nil {
					t.Fatal(err)
				}
				zip = []byte(b.String())
			}
			if files, _ := unzip(t, string(zip)); len(files) == 0 {
				t.Fatal("an empty archive")
			}
			check(t, log.next(t, "GET", target), 200, int64(len(zip)), w)
		}
	})

	t.Run("ClientResets", func(t *testing.T) {
		// A client reads a few MiB of a 1 GiB file, then resets the
		// connection: the log tells what was sent, no less than the
		// client got and far less than the file.
		c := dial(t, srv.Addr)
		if _, err := io.WriteString(c, get("/huge.bin")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		head, err := readHead(br)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(head, "HTTP/1.1 200") {
			t.Fatalf("head %q", head)
		}
		const want = 4 << 20
		got, err := io.CopyN(io.Discard, br, want)
		if err != nil {
			t.Fatalf("read %d bytes: %v", got, err)
		}
		got += int64(br.Buffered()) // read from the socket too
		c.(*net.TCPConn).SetLinger(0)
		c.Close() // a reset, with unread bytes in the socket
		r := log.next(t, "GET", "/huge.bin")
		if r.Status != 200 || r.Bytes < got || r.Bytes >= hugeSize || r.Sent != r.Bytes+int64(len(head)) || r.Duration <= 0 {
			t.Errorf("logged status %d, body bytes %d, bytes %d, duration %v; want 200, from %d (what the client got) to less than %d, with the head's %d, positive",
				r.Status, r.Bytes, r.Sent, r.Duration, got, int64(hugeSize), len(head))
		}
		t.Logf("client read %d body bytes; %d logged", got, r.Bytes)
	})
}

// readHead reads a response head, to its empty line.
func readHead(br *bufio.Reader) (string, error) {
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			return head.String(), fmt.Errorf("head cut: %w", err)
		}
		if line == "\r\n" {
			return head.String(), nil
		}
	}
}
