// Package conformance is weft's HTTP conformance suite: raw requests over
// real sockets against a running engine, checked against RFC 9110 and 9112
// and against what users of nginx and Go's FileServer expect. Each engine's
// tests run the whole suite with one line: conformance.Run(t, starter).
package conformance

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// Options configure one server under test.
type Options struct {
	Site   site.Config   // Root is set by the suite
	Engine engine.Config // Handler is set by the starter
	// Hosts, when set, is served instead of Site: virtual hosts.
	Hosts *site.HostsConfig
}

// Server is a running server under test.
type Server struct {
	Addr string
	// Stop begins a graceful shutdown and waits for Serve to return.
	Stop func() error
	// PID is the server's process, when it runs in its own.
	PID int
}

// Starter starts a server with opts and registers its cleanup with t.
type Starter func(t testing.TB, opts Options) *Server

// Capabilities say which behaviours an engine has by design; the suite
// expects the other behaviour where one is missing.
type Capabilities struct {
	// Concurrent: the engine serves a second client while a first holds
	// its connection open. serial does not.
	Concurrent bool
	// Workers is the number of processes that each enforce the limits
	// on their own (prefork); 0 or 1 for one process.
	Workers int
	// Refuses: at MaxConns, with no idle connection to reclaim, the engine
	// answers a newcomer 503 (the event loops); without it, newcomers wait
	// in the backlog.
	Refuses bool
}

// StartEngine is a Starter running e in this process.
func StartEngine(e engine.Engine) Starter {
	return func(t testing.TB, opts Options) *Server {
		t.Helper()
		var st interface {
			http1.MemoryHandler
			Close() error
		}
		var err error
		if opts.Hosts != nil {
			st, err = site.OpenHosts(*opts.Hosts)
		} else {
			st, err = site.Open(opts.Site)
		}
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := opts.Engine
		cfg.Handler = st
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Serve(ctx, ln, cfg.WithDefaults()) }()
		// Once: a test's Stop (often on a goroutine of its own) and its
		// cleanup may both call it after a failure.
		stop := sync.OnceValue(func() error {
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(30 * time.Second):
				return errors.New("engine did not return from Serve within 30s of shutdown")
			}
		})
		t.Cleanup(func() {
			if err := stop(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			st.Close()
		})
		return &Server{Addr: ln.Addr().String(), Stop: stop}
	}
}

// Files of the test tree, by path.
var (
	indexHTML = "<!doctype html><title>home</title><h1>home</h1>\n"
	helloTxt  = "hello, world\n"
	dataBin   = func() string {
		b := make([]byte, 1000)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		return string(b)
	}()
)

// WriteTree writes files (slash-separated name → content) beneath dir,
// making the folders on the way.
func WriteTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Tree builds the document root every case serves.
func Tree(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"index.html":               indexHTML,
		"hello.txt":                helloTxt,
		"data.bin":                 dataBin,
		"style.css":                "body{}\n",
		"app.js":                   "console.log(1)\n",
		"pic.png":                  "\x89PNG\r\n\x1a\n",
		"data.json":                "{}\n",
		"LOUD.HTML":                "<p>loud</p>\n",
		"noext":                    "plain\n",
		"a b.txt":                  "space\n",
		"%2e%2e":                   "literal percent name\n",
		"dir/index.html":           "<p>dir index</p>\n",
		"dir/sub/file.txt":         "deep\n",
		"empty/.keep":              "",
		".hidden":                  "secret\n",
		".git/config":              "[core]\n",
		".well-known/security.txt": "Contact: mailto:security@example.com\n",
		"big.bin":                  strings.Repeat("0123456789abcdef", 1<<16), // 1 MiB
	}
	WriteTree(t, root, files)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside\n"), 0o644)
	if runtime.GOOS != "windows" {
		must(t, os.Symlink("hello.txt", filepath.Join(root, "link-in.txt")))
		must(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(root, "link-out.txt")))
		must(t, os.Symlink(outside, filepath.Join(root, "dir-out")))
		must(t, os.Symlink("../../hello.txt", filepath.Join(root, "dir", "sub", "up.txt")))
		mkfifo(t, filepath.Join(root, "fifo"))
	}
	return root
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// exchange sends raw on a new connection and reads every response until
// the server closes the connection or timeout passes.
func exchange(t testing.TB, addr, raw string) (resps []*Resp, closed bool) {
	t.Helper()
	c := send(t, addr, raw, 3*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		r, err := readResp(br, "")
		if err != nil {
			return resps, !isTimeout(err)
		}
		resps = append(resps, r)
	}
}

// one sends raw and returns the single response expected.
func one(t testing.TB, addr, raw string) *Resp {
	t.Helper()
	c := send(t, addr, raw, 5*time.Second)
	defer c.Close()
	method, _, _ := strings.Cut(raw, " ")
	r, err := readResp(bufio.NewReader(c), method)
	if err != nil {
		t.Fatalf("request %q: %v", firstLine(raw), err)
	}
	return r
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	if len(l) > 80 {
		l = l[:80] + "…"
	}
	return l
}

// send dials addr, writes raw and gives the connection until d from now
// to answer.
func send(t testing.TB, addr, raw string, d time.Duration) net.Conn {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		c.Close()
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(d))
	return c
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// DialSmallWindow connects to addr with a receive buffer of about size
// bytes, so a server's answers soon fill every buffer between the two and
// the server meets a full socket.
func DialSmallWindow(t testing.TB, addr string, size int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { setRcvBuf(fd, size) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Resp is a response as read off the wire.
type Resp struct {
	Status int
	Header http.Header
	Body   string
	Raw    string // status line and header section, verbatim
}

// readResp reads one response. For a HEAD request (method "HEAD") it reads
// no body, whatever Content-Length says.
func readResp(br *bufio.Reader, method string) (*Resp, error) {
	// Read the head line by line so Raw holds the exact bytes.
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			return nil, err
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	r, err := parseHead(head.String())
	if err != nil {
		return nil, err
	}
	if method == "HEAD" || r.Status == 304 || r.Status == 204 {
		return r, nil
	}
	if r.Header.Get("Transfer-Encoding") == "chunked" {
		if r.Header.Get("Content-Length") != "" {
			return nil, errors.New("response with both Content-Length and Transfer-Encoding")
		}
		var body strings.Builder
		if err := readChunked(br, &body); err != nil {
			return nil, err
		}
		r.Body = body.String()
		return r, nil
	}
	cl := r.Header.Get("Content-Length")
	if cl == "" {
		return nil, errors.New("response without Content-Length")
	}
	var n int
	for _, c := range cl {
		if c < '0' || c > '9' {
			return nil, errors.New("bad Content-Length " + cl)
		}
		n = n*10 + int(c-'0')
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, err
	}
	r.Body = string(body)
	return r, nil
}

// readChunked copies a chunked body (RFC 9112 §7.1) from br to w, strictly:
// hexadecimal sizes without extensions, CRLF after each chunk, no trailer.
func readChunked(br *bufio.Reader, w io.Writer) error {
	buf := make([]byte, 32<<10)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		size := strings.TrimSuffix(line, "\r\n")
		if size == line || size == "" || len(size) > 15 {
			return fmt.Errorf("malformed chunk size line %q", line)
		}
		var n int64
		for _, c := range size {
			d := strings.IndexRune("0123456789abcdef", c)
			if d < 0 {
				return fmt.Errorf("malformed chunk size %q", size)
			}
			n = n*16 + int64(d)
		}
		if n > 0 {
			if m, err := io.CopyBuffer(w, io.LimitReader(br, n), buf); err != nil || m < n {
				return fmt.Errorf("chunk of %d bytes cut after %d: %w", n, m, cmp.Or(err, io.ErrUnexpectedEOF))
			}
		}
		end, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if end != "\r\n" {
			return fmt.Errorf("chunk of %d bytes not followed by CRLF (%q)", n, end)
		}
		if n == 0 {
			return nil
		}
	}
}

// get builds a GET request for path with extra header lines.
func get(path string, headers ...string) string {
	return req("GET", path, headers...)
}

func req(method, path string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: test\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// closedSoon reports whether the server closes c within d, reading and
// discarding whatever it sends.
func closedSoon(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil || !isTimeout(err)
}

// parseHead parses a response head strictly, keeping every field as sent.
func parseHead(raw string) (*Resp, error) {
	lines := strings.Split(strings.TrimSuffix(raw, "\r\n\r\n"), "\r\n")
	var code int
	if _, err := fmt.Sscanf(lines[0], "HTTP/1.1 %3d ", &code); err != nil {
		return nil, fmt.Errorf("status line %q: %v", lines[0], err)
	}
	r := &Resp{Status: code, Header: http.Header{}, Raw: raw}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ": ")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("malformed response field %q", l)
		}
		r.Header.Add(name, value)
	}
	return r, nil
}
