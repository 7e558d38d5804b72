package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
	"github.com/weft-server/weft/internal/tlsx"
)

// weft is a server.Run under test.
type weft struct {
	addr string // host:port of the TCP (and, with HTTP/3, UDP) listener
	port int
	stop func() error // cancels Run's context and waits for it to return
}

// startWeft runs server.Run(cfg) in this process on a free loopback port.
func startWeft(t *testing.T, cfg server.Config) *weft {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Engine == "" {
		cfg.Engine = "goroutine"
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = slog.New(slog.DiscardHandler)
	}
	addrs := make(chan net.Addr, 1)
	cfg.OnListen = func(a net.Addr) { addrs <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg) }()
	w := &weft{}
	select {
	case a := <-addrs:
		w.addr = a.String()
		w.port = a.(*net.TCPAddr).Port
	case err := <-done:
		cancel()
		t.Fatalf("server.Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server.Run did not listen within 10s")
	}
	var once sync.Once
	var err error
	w.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("server.Run did not return within 30s of its context's end")
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := w.stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return w
}

// tlsWith is a TLSConfig serving certs.
func tlsWith(certs *conformance.Certs) server.TLSConfig {
	return server.TLSConfig{Pairs: []tlsx.Pair{{Cert: certs.CertFile, Key: certs.KeyFile}}}
}

// answer is a response as a client sees it: status, fields, body.
type answer struct {
	proto  string // how it was asked, for messages
	status int
	header http.Header
	body   []byte
}

// rq is one request of the table.
type rq struct {
	name   string
	method string
	target string   // origin form with its query, or "*"
	fields []string // "Name: value"
	body   string
}

// do is one protocol's client: it sends r and returns the answer.
type do func(t *testing.T, r rq) answer

// rawDo sends r as HTTP/1.1 bytes on a connection from dial, then reads
// the answer strictly off the wire (fields as sent, body by
// Content-Length), as the conformance suite does.
func rawDo(proto string, host string, dial func() (net.Conn, error)) do {
	return func(t *testing.T, r rq) answer {
		t.Helper()
		c, err := dial()
		if err != nil {
			t.Fatalf("%s: dial: %v", proto, err)
		}
		defer c.Close()
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.method, r.target, host)
		for _, f := range r.fields {
			b.WriteString(f + "\r\n")
		}
		if r.body != "" {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
		}
		b.WriteString("\r\n" + r.body)
		c.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.WriteString(c, b.String()); err != nil {
			t.Fatalf("%s %s: write: %v", proto, r.name, err)
		}
		a, err := readAnswer(bufio.NewReader(c), r.method == "HEAD")
		if err != nil {
			t.Fatalf("%s %s: %v", proto, r.name, err)
		}
		a.proto = proto
		return a
	}
}

// readAnswer reads one HTTP/1.1 response; with head, no body.
func readAnswer(br *bufio.Reader, head bool) (answer, error) {
	a := answer{header: http.Header{}}
	line, err := br.ReadString('\n')
	if err != nil {
		return a, fmt.Errorf("status line: %w", err)
	}
	var minor int
	if _, err := fmt.Sscanf(line, "HTTP/1.%1d %3d ", &minor, &a.status); err != nil {
		return a, fmt.Errorf("status line %q: %v", line, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return a, fmt.Errorf("header: %w", err)
		}
		if line == "\r\n" {
			break
		}
		name, value, ok := strings.Cut(strings.TrimSuffix(line, "\r\n"), ": ")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return a, fmt.Errorf("malformed field line %q", line)
		}
		a.header[http.CanonicalHeaderKey(name)] = append(a.header[http.CanonicalHeaderKey(name)], value)
	}
	if head || a.status == 204 || a.status == 304 {
		return a, nil
	}
	cl := a.header.Get("Content-Length")
	if cl == "" && strings.EqualFold(a.header.Get("Connection"), "close") {
		a.body, err = io.ReadAll(br) // net/http's own errors end with the connection
		return a, err
	}
	n, err := strconv.ParseInt(cl, 10, 64)
	if err != nil {
		return a, fmt.Errorf("Content-Length %q: %v", cl, err)
	}
	a.body = make([]byte, n)
	if _, err := io.ReadFull(br, a.body); err != nil {
		return a, fmt.Errorf("body: %w", err)
	}
	return a, nil
}

// goDo sends r with a net/http or quic-go client, without the client's
// transparent decompression, the target sent as written; the answer must
// come over wire ("HTTP/2.0"), proto names it.
func goDo(proto, wire string, rt http.RoundTripper, scheme, host string) do {
	return func(t *testing.T, r rq) answer {
		t.Helper()
		path, query, _ := strings.Cut(r.target, "?")
		req := &http.Request{
			Method: r.method,
			URL:    &url.URL{Scheme: scheme, Host: host, Opaque: path, RawQuery: query},
			Header: http.Header{},
			Host:   host,
		}
		for _, f := range r.fields {
			name, value, _ := strings.Cut(f, ": ")
			req.Header.Add(name, value)
		}
		if r.body != "" {
			req.Body = io.NopCloser(strings.NewReader(r.body))
			req.ContentLength = int64(len(r.body))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := rt.RoundTrip(req.WithContext(ctx))
		if err != nil {
			t.Fatalf("%s %s: %v", proto, r.name, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: body: %v", proto, r.name, err)
		}
		if resp.Proto != wire {
			t.Fatalf("%s %s: answered over %s", proto, r.name, resp.Proto)
		}
		if r.method == "HEAD" {
			body = nil
		}
		return answer{proto: proto, status: resp.StatusCode, header: resp.Header, body: body}
	}
}

// protocolClients are the clients of every protocol, against a TLS server
// with HTTP/3 (tw) and a cleartext one with h2c (cw).
type protocolClients struct {
	plain, tls1, h2, h2c, h3 do
}

func newClients(t *testing.T, certs *conformance.Certs, tw, cw *weft) *protocolClients {
	t.Helper()
	tconf := &tls.Config{RootCAs: certs.Pool, ServerName: "localhost"}
	h1conf := tconf.Clone()
	h1conf.NextProtos = []string{"http/1.1"}
	h2 := &http.Transport{TLSClientConfig: tconf.Clone(), DisableCompression: true, Protocols: new(http.Protocols)}
	h2.Protocols.SetHTTP2(true)
	h2c := &http.Transport{DisableCompression: true, Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	h3 := &http3.Transport{TLSClientConfig: tconf.Clone(), DisableCompression: true}
	t.Cleanup(func() {
		h2.CloseIdleConnections()
		h2c.CloseIdleConnections()
		h3.Close()
	})
	return &protocolClients{
		plain: rawDo("HTTP/1.1", cw.addr, func() (net.Conn, error) { return net.DialTimeout("tcp", cw.addr, 5*time.Second) }),
		tls1: rawDo("HTTP/1.1 over TLS", tw.addr, func() (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tw.addr, h1conf)
		}),
		h2:  goDo("HTTP/2 over TLS", "HTTP/2.0", h2, "https", tw.addr),
		h2c: goDo("HTTP/2 cleartext", "HTTP/2.0", h2c, "http", cw.addr),
		h3:  goDo("HTTP/3", "HTTP/3.0", h3, "https", tw.addr),
	}
}

// compressible is a text file large enough to be compressed on the fly.
var compressible = strings.Repeat("All work and no play makes Jack a dull boy.\n", 500)

// TestProtocolsSameAnswers sends the same requests over plain HTTP/1.1,
// HTTP/1.1 over TLS, HTTP/2 over TLS, cleartext HTTP/2 (prior knowledge)
// and HTTP/3, and requires the same status, fields and body bytes from
// each, the raw HTTP/1.1 answer being the reference: Date aside, and
// Connection and Keep-Alive, which HTTP/2 and HTTP/3 forbid; Alt-Svc is
// required on every answer over TLS (HTTP/3 is on) and on none other.
func TestProtocolsSameAnswers(t *testing.T) {
	root := conformance.Tree(t)
	if err := os.WriteFile(filepath.Join(root, "words.txt"), []byte(compressible), 0o644); err != nil {
		t.Fatal(err)
	}
	certs := conformance.NewCerts(t)
	tcfg := tlsWith(certs)
	tcfg.HTTP3 = true
	tw := startWeft(t, server.Config{Site: site.Config{Root: root}, TLS: tcfg})
	cw := startWeft(t, server.Config{Site: site.Config{Root: root}, TLS: server.TLSConfig{H2C: true}})
	cl := newClients(t, certs, tw, cw)
	altSvc := fmt.Sprintf(`h3=":%d"; ma=86400`, tw.port)

	first := cl.plain(t, rq{name: "etag", method: "GET", target: "/hello.txt"})
	etag := first.header.Get("ETag")
	if etag == "" {
		t.Fatal("GET /hello.txt: no ETag")
	}
	// Each server builds its compressed variants in the background, on
	// the first request asking for one: ask until they are served.
	for _, coding := range []string{"gzip", "br", "zstd"} {
		for _, c := range []do{cl.plain, cl.tls1} {
			r := rq{name: "warm " + coding, method: "GET", target: "/words.txt", fields: []string{"Accept-Encoding: " + coding}}
			for i := 0; ; i++ {
				if c(t, r).header.Get("Content-Encoding") == coding {
					break
				}
				if i == 200 {
					t.Fatalf("GET /words.txt, Accept-Encoding: %s: never encoded", coding)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}

	reqs := []rq{
		{name: "root", method: "GET", target: "/"},
		{name: "head", method: "HEAD", target: "/hello.txt"},
		{name: "head root", method: "HEAD", target: "/"},
		{name: "missing", method: "GET", target: "/missing"},
		{name: "dotfile", method: "GET", target: "/.git/config"},
		{name: "encoded traversal", method: "GET", target: "/%2e%2e/x"},
		{name: "directory redirect", method: "GET", target: "/dir?q=1"},
		{name: "directory index", method: "GET", target: "/dir/"},
		{name: "if-none-match", method: "GET", target: "/hello.txt", fields: []string{"If-None-Match: " + etag}},
		{name: "if-modified-since future", method: "GET", target: "/hello.txt", fields: []string{"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"}},
		{name: "if-match mismatch", method: "GET", target: "/hello.txt", fields: []string{`If-Match: "nope"`}},
		{name: "range", method: "GET", target: "/data.bin", fields: []string{"Range: bytes=10-19"}},
		{name: "suffix range", method: "GET", target: "/data.bin", fields: []string{"Range: bytes=-7"}},
		{name: "unsatisfiable range", method: "GET", target: "/data.bin", fields: []string{"Range: bytes=5000-"}},
		{name: "multipart ranges", method: "GET", target: "/data.bin", fields: []string{"Range: bytes=0-1,-2,100-199"}},
		{name: "gzip", method: "GET", target: "/words.txt", fields: []string{"Accept-Encoding: gzip"}},
		{name: "br", method: "GET", target: "/words.txt", fields: []string{"Accept-Encoding: br"}},
		{name: "zstd", method: "GET", target: "/words.txt", fields: []string{"Accept-Encoding: zstd"}},
		{name: "identity", method: "GET", target: "/words.txt", fields: []string{"Accept-Encoding: identity"}},
		{name: "options", method: "OPTIONS", target: "/hello.txt"},
		{name: "options *", method: "OPTIONS", target: "*"},
		{name: "405", method: "DELETE", target: "/hello.txt"},
		{name: "501", method: "BREW", target: "/"},
		{name: "big", method: "GET", target: "/big.bin"},
		{name: "encoded space", method: "GET", target: "/a%20b.txt"},
		{name: "literal percent name", method: "GET", target: "/%252e%252e"},
		{name: "odd query", method: "GET", target: "/hello.txt?x=%zz&y"},
		{name: "symlink out", method: "GET", target: "/link-out.txt"},
		{name: "head range", method: "HEAD", target: "/data.bin", fields: []string{"Range: bytes=0-9"}},
		{name: "if-range match", method: "GET", target: "/hello.txt", fields: []string{"Range: bytes=0-4", "If-Range: " + etag}},
		{name: "if-range mismatch", method: "GET", target: "/hello.txt", fields: []string{"Range: bytes=0-4", `If-Range: "old"`}},
		{name: "head gzip", method: "HEAD", target: "/words.txt", fields: []string{"Accept-Encoding: gzip"}},
		{name: "gzip range", method: "GET", target: "/words.txt", fields: []string{"Accept-Encoding: gzip", "Range: bytes=0-99"}},
		// HTTP/1.1 trims a field value's surrounding whitespace; Go's
		// HTTP/2 server and quic-go pass it on.
		{name: "trailing space if-none-match", method: "GET", target: "/hello.txt", fields: []string{"If-None-Match: " + etag + " "}},
		{name: "trailing space range", method: "GET", target: "/data.bin", fields: []string{"Range: bytes=10-19\t"}},
		{name: "leading space accept-encoding", method: "GET", target: "/words.txt", fields: []string{"Accept-Encoding:  gzip "}},
		{name: "trailing space if-modified-since", method: "GET", target: "/hello.txt", fields: []string{"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT "}},
		{name: "repeated accept-encoding", method: "GET", target: "/words.txt", fields: []string{"Accept-Encoding: identity;q=0.5", "Accept-Encoding: gzip"}},
		{name: "repeated range", method: "GET", target: "/data.bin", fields: []string{"Range: bytes=0-1", "Range: bytes=5-9"}},
		{name: "post", method: "POST", target: "/hello.txt"},
		{name: "post body", method: "POST", target: "/hello.txt", body: "hello"},
		{name: "get body", method: "GET", target: "/hello.txt", body: "hello"},
		// The HTTP/1.1 engine answers these four itself (413, 431, 431,
		// 414) before the site and the Alt-Svc wrapper around it see
		// them; over TLS they carry Alt-Svc all the same
		// (h1conn.Config.AltSvc).
		{name: "body too large", method: "POST", target: "/hello.txt", body: strings.Repeat("x", 100<<10)},
		{name: "long field", method: "GET", target: "/hello.txt", fields: []string{"X-Long: " + strings.Repeat("x", 20<<10)}},
		{name: "many fields", method: "GET", target: "/hello.txt", fields: manyFields(150)},
		{name: "long target", method: "GET", target: "/hello.txt?" + strings.Repeat("q", 9<<10)},
	}
	others := []struct {
		do  do
		tls bool
	}{{cl.tls1, true}, {cl.h2, true}, {cl.h2c, false}, {cl.h3, true}}
	for _, r := range reqs {
		t.Run(strings.ReplaceAll(r.name, " ", "_"), func(t *testing.T) {
			want := cl.plain(t, r)
			if v := want.header.Values("Alt-Svc"); v != nil {
				t.Errorf("plain HTTP/1.1 answer has Alt-Svc %q", v)
			}
			for _, o := range others {
				got := o.do(t, r)
				switch v := got.header.Values("Alt-Svc"); {
				case o.tls && (len(v) != 1 || v[0] != altSvc):
					t.Errorf("%s: Alt-Svc %q, want %q", got.proto, v, altSvc)
				case !o.tls && v != nil:
					t.Errorf("%s: Alt-Svc %q over cleartext", got.proto, v)
				}
				if d := diffAnswers(want, got, "Alt-Svc"); d != "" {
					t.Errorf("%s: %s differs from plain HTTP/1.1:\n%s", r.name, got.proto, d)
				}
			}
			switch r.name {
			case "gzip", "br", "zstd":
				if ce := want.header.Get("Content-Encoding"); ce != r.name {
					t.Errorf("Content-Encoding %q, want %s", ce, r.name)
				}
			case "multipart ranges":
				if !strings.HasPrefix(want.header.Get("Content-Type"), "multipart/byteranges; boundary=") {
					t.Errorf("Content-Type %q", want.header.Get("Content-Type"))
				}
			}
		})
	}
}

// ignored are fields whose difference between protocols is no difference.
var ignored = map[string]bool{"Date": true, "Connection": true, "Keep-Alive": true}

// diffAnswers describes how got differs from want ("" for not at all),
// one line per difference: status, each field by name (any case), body.
func diffAnswers(want, got answer, skip ...string) string {
	var d []string
	if want.status != got.status {
		d = append(d, fmt.Sprintf("  status: %d, want %d", got.status, want.status))
	}
	names := map[string]bool{}
	for n := range want.header {
		names[http.CanonicalHeaderKey(n)] = true
	}
	for n := range got.header {
		names[http.CanonicalHeaderKey(n)] = true
	}
	var sorted []string
	for n := range names {
		if !ignored[n] && !contains(skip, n) {
			sorted = append(sorted, n)
		}
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		w, g := want.header.Values(n), got.header.Values(n)
		if strings.Join(w, "\n") != strings.Join(g, "\n") {
			d = append(d, fmt.Sprintf("  %s: %q, want %q", n, g, w))
		}
	}
	if !bytes.Equal(want.body, got.body) {
		i := firstDiff(string(want.body), string(got.body))
		d = append(d, fmt.Sprintf("  body: %d bytes, want %d; first difference at byte %d: %q, want %q",
			len(got.body), len(want.body), i, excerpt(got.body, i), excerpt(want.body, i)))
	}
	return strings.Join(d, "\n")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func excerpt(b []byte, i int) string {
	lo, hi := max(0, i-16), min(len(b), i+48)
	if lo > hi {
		return ""
	}
	return string(b[lo:hi])
}

// manyFields is n distinct header lines.
func manyFields(n int) []string {
	f := make([]string, n)
	for i := range f {
		f[i] = fmt.Sprintf("X-F%d: %d", i, i)
	}
	return f
}
