package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// rawExchange writes raw on a new connection from dial and reads one
// answer (no body for HEAD).
func rawExchange(t *testing.T, c net.Conn, raw string) answer {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	a, err := readAnswer(bufio.NewReader(c), strings.HasPrefix(raw, "HEAD "))
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return a
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dialTLS(t *testing.T, addr string, certs *conformance.Certs) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: certs.Pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// h2Transport is an HTTP/2-only client trusting certs.
func h2Transport(t *testing.T, certs *conformance.Certs) *http.Transport {
	tr := &http.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: certs.Pool, ServerName: "localhost"},
		DisableCompression: true, Protocols: new(http.Protocols),
	}
	tr.Protocols.SetHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func h3Transport(t *testing.T, certs *conformance.Certs) *http3.Transport {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool, ServerName: "localhost"}, DisableCompression: true}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestRedirectHTTP: --redirect-http answers 308 to the same path and
// query over HTTPS on the server's port, and 400 without a usable Host.
func TestRedirectHTTP(t *testing.T) {
	certs := conformance.NewCerts(t)
	tcfg := tlsWith(certs)
	redir := freeAddr(t)
	tcfg.RedirectHTTP = redir
	w := startWeft(t, server.Config{Site: site.Config{Root: conformance.Tree(t)}, TLS: tcfg})
	port := strconv.Itoa(w.port)
	for _, tc := range []struct{ raw, location string }{
		{"GET /a/b.txt?x=1&y=%20z HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", "https://example.com:" + port + "/a/b.txt?x=1&y=%20z"},
		{"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "https://example.com:" + port + "/"},
		{"HEAD /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "https://127.0.0.1:" + port + "/hello.txt"},
		{"GET /%2e%2e/x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "https://[::1]:" + port + "/%2e%2e/x"},
		// An IPv6 literal without a port (the default port 80) keeps
		// one pair of brackets.
		{"GET /v6 HTTP/1.1\r\nHost: [::1]\r\n\r\n", "https://[::1]:" + port + "/v6"},
		{"GET /v6 HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n", "https://[2001:db8::1]:" + port + "/v6"},
		{"GET http://other.example/p?q HTTP/1.1\r\nHost: other.example\r\n\r\n", "https://other.example:" + port + "/p?q"},
	} {
		a := rawExchange(t, dialTCP(t, redir), tc.raw)
		if a.status != 308 || a.header.Get("Location") != tc.location {
			t.Errorf("%q: %d, Location %q; want 308, %q", firstLine(tc.raw), a.status, a.header.Get("Location"), tc.location)
		}
		if v := a.header.Values("Alt-Svc"); v != nil {
			t.Errorf("%q: Alt-Svc %q over cleartext", firstLine(tc.raw), v)
		}
	}
	for _, raw := range []string{
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: \r\n\r\n",
		"GET / HTTP/1.1\r\nHost: user@evil.example\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: evil.example/x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a]b.example\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: not:an:address\r\n\r\n",
	} {
		if a := rawExchange(t, dialTCP(t, redir), raw); a.status != 400 || a.header.Get("Location") != "" {
			t.Errorf("%q: %d, Location %q; want 400 and none", raw, a.status, a.header.Get("Location"))
		}
	}
	// The target is served over TLS.
	a := rawExchange(t, dialTLS(t, w.addr, certs), "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if a.status != 200 || string(a.body) != "hello, world\n" {
		t.Errorf("GET /hello.txt over TLS: %d %q", a.status, a.body)
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

// TestAltSvc: with HTTP/3 on, HTTP/1.1-over-TLS and HTTP/2 answers
// advertise it; without, they do not; cleartext answers never do.
func TestAltSvc(t *testing.T) {
	root := conformance.Tree(t)
	certs := conformance.NewCerts(t)
	with := tlsWith(certs)
	with.HTTP3 = true
	on := startWeft(t, server.Config{Site: site.Config{Root: root}, TLS: with})
	off := startWeft(t, server.Config{Site: site.Config{Root: root}, TLS: tlsWith(certs)})
	plain := startWeft(t, server.Config{Site: site.Config{Root: root}, TLS: server.TLSConfig{H2C: true}})
	h2c := &http.Transport{DisableCompression: true, Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	defer h2c.CloseIdleConnections()
	h2 := h2Transport(t, certs)

	want := `h3=":` + strconv.Itoa(on.port) + `"; ma=86400`
	reqs := []rq{
		{name: "file", method: "GET", target: "/hello.txt"},
		{name: "404", method: "GET", target: "/missing"},
		{name: "304", method: "GET", target: "/hello.txt", fields: []string{"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"}},
		{name: "HEAD", method: "HEAD", target: "/"},
	}
	for _, r := range reqs {
		for _, tc := range []struct {
			what string
			do   do
			want string
		}{
			{"HTTP/1.1 over TLS, HTTP/3 on", rawDo("tls", on.addr, func() (net.Conn, error) { return dialTLS(t, on.addr, certs), nil }), want},
			{"HTTP/2, HTTP/3 on", goDo("h2", "HTTP/2.0", h2, "https", on.addr), want},
			{"HTTP/1.1 over TLS, HTTP/3 off", rawDo("tls", off.addr, func() (net.Conn, error) { return dialTLS(t, off.addr, certs), nil }), ""},
			{"HTTP/2, HTTP/3 off", goDo("h2", "HTTP/2.0", h2, "https", off.addr), ""},
			{"plain HTTP/1.1", rawDo("plain", plain.addr, func() (net.Conn, error) { return net.Dial("tcp", plain.addr) }), ""},
			{"h2c", goDo("h2c", "HTTP/2.0", h2c, "http", plain.addr), ""},
		} {
			a := tc.do(t, r)
			got := strings.Join(a.header.Values("Alt-Svc"), ", ")
			if got != tc.want || len(a.header.Values("Alt-Svc")) > 1 {
				t.Errorf("%s %s, %s: Alt-Svc %q, want %q", r.method, r.target, tc.what, a.header.Values("Alt-Svc"), tc.want)
			}
		}
	}
}

// TestTLSKeepAlivePipelining: HTTP/1.1 over TLS keeps the connection
// and answers pipelined requests in order.
func TestTLSKeepAlivePipelining(t *testing.T) {
	certs := conformance.NewCerts(t)
	w := startWeft(t, server.Config{Site: site.Config{Root: conformance.Tree(t)}, TLS: tlsWith(certs)})
	c := dialTLS(t, w.addr, certs)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	// Two requests in one write, then one more on the same connection.
	if _, err := io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-3\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		status int
		body   string
	}{{200, "hello, world\n"}, {206, "abcd"}} {
		a, err := readAnswer(br, false)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		if a.status != want.status || string(a.body) != want.body {
			t.Errorf("answer %d: %d %q, want %d %q", i+1, a.status, a.body, want.status, want.body)
		}
	}
	if _, err := io.WriteString(c, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if a, err := readAnswer(br, true); err != nil || a.status != 200 {
		t.Fatalf("third request on the kept connection: %v %d", err, a.status)
	}
}

// TestTLSSilentClients: a client that connects and sends nothing, or
// completes the handshake and sends nothing, is closed after the
// read-header timeout; others are served meanwhile.
func TestTLSSilentClients(t *testing.T) {
	certs := conformance.NewCerts(t)
	const timeout = time.Second
	w := startWeft(t, server.Config{
		Site:   site.Config{Root: conformance.Tree(t)},
		TLS:    tlsWith(certs),
		Limits: engine.Config{ReadHeaderTimeout: timeout},
	})
	start := time.Now()
	silentTCP := dialTCP(t, w.addr)
	defer silentTCP.Close()
	silentTLS := dialTLS(t, w.addr, certs)
	defer silentTLS.Close()

	// Served meanwhile, at once.
	for range 3 {
		t0 := time.Now()
		a := rawExchange(t, dialTLS(t, w.addr, certs), "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
		if a.status != 200 || time.Since(t0) > timeout/2 { // generous, for -race on a busy machine
			t.Errorf("another client: %d after %v", a.status, time.Since(t0))
		}
	}
	for name, c := range map[string]net.Conn{"silent before the handshake": silentTCP, "silent after the handshake": silentTLS} {
		c.SetReadDeadline(start.Add(timeout + 5*time.Second))
		n, err := io.Copy(io.Discard, c)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			t.Errorf("%s: still open after %v (read-header timeout %v)", name, time.Since(start), timeout)
		case time.Since(start) < timeout-50*time.Millisecond:
			t.Errorf("%s: closed after %v, before the read-header timeout %v", name, time.Since(start), timeout)
		default:
			t.Logf("%s: closed after %v (%d bytes, %v)", name, time.Since(start), n, err)
		}
	}
}

// TestPlainHTTPToTLSPort: a cleartext request on the TLS port gets the
// connection closed, not a hang.
func TestPlainHTTPToTLSPort(t *testing.T) {
	certs := conformance.NewCerts(t)
	w := startWeft(t, server.Config{Site: site.Config{Root: conformance.Tree(t)}, TLS: tlsWith(certs)})
	c := dialTCP(t, w.addr)
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("not closed within 5s (got %q)", b)
	}
	t.Logf("closed: %q, %v", b, err)
}

// TestRequestTLSReachesSite: the site knows a request came over TLS,
// whatever the protocol: the security preset sends HSTS over HTTPS only.
func TestRequestTLSReachesSite(t *testing.T) {
	root := conformance.Tree(t)
	certs := conformance.NewCerts(t)
	tcfg := tlsWith(certs)
	tcfg.HTTP3 = true
	scfg := site.Config{Root: root, Security: true}
	tw := startWeft(t, server.Config{Site: scfg, TLS: tcfg})
	cw := startWeft(t, server.Config{Site: scfg, TLS: server.TLSConfig{H2C: true}})
	cl := newClients(t, certs, tw, cw)
	for _, r := range []rq{
		{name: "file", method: "GET", target: "/hello.txt"},
		{name: "404", method: "GET", target: "/missing"},
	} {
		for _, tc := range []struct {
			do   do
			hsts bool
		}{{cl.plain, false}, {cl.h2c, false}, {cl.tls1, true}, {cl.h2, true}, {cl.h3, true}} {
			a := tc.do(t, r)
			hsts := a.header.Get("Strict-Transport-Security")
			if (hsts != "") != tc.hsts {
				t.Errorf("%s %s over %s: Strict-Transport-Security %q", r.method, r.target, a.proto, hsts)
			}
			if a.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s %s over %s: no security preset (X-Content-Type-Options %q)", r.method, r.target, a.proto, a.header.Get("X-Content-Type-Options"))
			}
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the access log's flusher.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAccessLogProtocols: HTTP/2 and HTTP/3 requests are logged with
// their protocol, status and body bytes.
func TestAccessLogProtocols(t *testing.T) {
	certs := conformance.NewCerts(t)
	tcfg := tlsWith(certs)
	tcfg.HTTP3 = true
	var out syncBuffer
	w := startWeft(t, server.Config{
		Site: site.Config{Root: conformance.Tree(t)}, TLS: tcfg,
		AccessLog: true, LogFormat: accesslog.Common, Stdout: &out, FlushEvery: 10 * time.Millisecond,
	})
	h2 := goDo("h2", "HTTP/2.0", h2Transport(t, certs), "https", w.addr)
	h3 := goDo("h3", "HTTP/3.0", h3Transport(t, certs), "https", w.addr)
	tls1 := rawDo("tls", w.addr, func() (net.Conn, error) { return dialTLS(t, w.addr, certs), nil })
	h2.get(t, "/hello.txt")
	h2(t, rq{name: "range", method: "GET", target: "/data.bin", fields: []string{"Range: bytes=10-19"}})
	h2(t, rq{name: "head", method: "HEAD", target: "/hello.txt"})
	h3.get(t, "/missing")
	h3.get(t, "/big.bin")
	tls1.get(t, "/hello.txt?tls")
	missing := len(h3.get(t, "/missing").body)
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	log := out.String()
	for _, want := range []string{
		`"GET /hello.txt HTTP/2.0" 200 13`,
		`"GET /data.bin HTTP/2.0" 206 10`,
		`"HEAD /hello.txt HTTP/2.0" 200 0`,
		`"GET /missing HTTP/3.0" 404 ` + strconv.Itoa(missing) + "\n",
		`"GET /big.bin HTTP/3.0" 200 1048576`,
		`"GET /hello.txt?tls HTTP/1.1" 200 13`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("access log lacks %s:\n%s", want, log)
		}
	}
}

// get is a GET of target.
func (d do) get(t *testing.T, target string) answer {
	t.Helper()
	return d(t, rq{name: "GET " + target, method: "GET", target: target})
}

// TestHTTP2GracefulShutdown: a download in flight over HTTP/2 completes
// when the server's context ends, within ShutdownTimeout, while new
// connections are refused.
func TestHTTP2GracefulShutdown(t *testing.T) {
	certs := conformance.NewCerts(t)
	downloadThroughShutdown(t, tlsWith(certs), h2Transport(t, certs), 2, func(addr string) error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// TestHTTP3GracefulShutdown: the same over HTTP/3: the download in flight
// completes, and a new QUIC connection gets no answer once the shutdown
// has begun.
func TestHTTP3GracefulShutdown(t *testing.T) {
	certs := conformance.NewCerts(t)
	tcfg := tlsWith(certs)
	tcfg.HTTP3 = true
	downloadThroughShutdown(t, tcfg, h3Transport(t, certs), 3, func(addr string) error {
		tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool, ServerName: "localhost"}}
		defer tr.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/hello.txt", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
}

// downloadThroughShutdown starts weft with tcfg, begins a 24 MiB download
// over rt (protocol major version proto), stops the server with most of
// it unsent, waits until connect (a new connection) fails, then reads the
// rest slowly and checks every byte came and server.Run returned.
func downloadThroughShutdown(t *testing.T, tcfg server.TLSConfig, rt http.RoundTripper, proto int, connect func(addr string) error) {
	t.Helper()
	root := conformance.Tree(t)
	huge := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstu\n"), 24<<20/32) // 24 MiB
	if err := os.WriteFile(filepath.Join(root, "huge.bin"), huge, 0o644); err != nil {
		t.Fatal(err)
	}
	const grace = 10 * time.Second
	w := startWeft(t, server.Config{
		Site: site.Config{Root: root}, TLS: tcfg,
		Limits: engine.Config{ShutdownTimeout: grace},
	})
	req, _ := http.NewRequest("GET", "https://"+w.addr+"/huge.bin", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != proto || resp.StatusCode != 200 {
		t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
	}
	var got bytes.Buffer
	if _, err := io.CopyN(&got, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	// The server is told to stop with most of the file still to send.
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- w.stop() }()
	for connect(w.addr) == nil {
		if time.Since(start) > 2*time.Second {
			t.Fatal("new connections still accepted 2s after the shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The rest, slowly: about 1.5s.
	for {
		n, err := io.CopyN(&got, resp.Body, 256<<10)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("download cut after %d bytes, %v into the shutdown: %v", got.Len(), time.Since(start), err)
		}
		if n > 0 {
			time.Sleep(15 * time.Millisecond)
		}
	}
	if !bytes.Equal(got.Bytes(), huge) {
		t.Fatalf("downloaded %d bytes, want the file's %d", got.Len(), len(huge))
	}
	done := time.Since(start)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(grace + 5*time.Second):
		t.Fatal("server.Run did not return after the download completed")
	}
	t.Logf("download completed %v into the shutdown; server.Run returned after %v", done, time.Since(start))
}
