package h2_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/h2"
	"github.com/weft-server/weft/internal/http1"
)

// body1k is what /1k serves; every other path serves "hello" (/slow
// after 50 ms, from the handler's goroutine).
var body1k = strings.Repeat("x", 1024)

// handler answers /1k and "hello" from memory, and /slow (after 50 ms)
// and /stream (a Stream body) only from ServeHTTP1, on a stream's own
// goroutine.
type handler struct{}

func (handler) ServeFromMemory(req *http1.Request, resp *http1.Response) bool {
	switch string(req.Path) {
	case "/slow", "/stream":
		return false
	}
	answer(req, resp)
	return true
}

// BodyLimit takes the bodies of /upload (up to 1 MiB).
func (handler) BodyLimit(req *http1.Request) int64 {
	if string(req.Path) == "/upload" {
		return 1 << 20
	}
	return 0
}

func (handler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	switch string(req.Path) {
	case "/upload": // the body's length, or 413
		n, err := io.Copy(io.Discard, req.Body)
		if err != nil {
			http1.ErrorPage(resp, http1.StatusOf(err))
			return
		}
		resp.Status = 200
		resp.Body = []byte(strconv.FormatInt(n, 10))
		return
	case "/slow":
		time.Sleep(50 * time.Millisecond)
	case "/stream":
		resp.Status = 200
		resp.AddHeader("Content-Type", "text/plain")
		resp.Stream = streamBody{}
		return
	}
	answer(req, resp)
}

func answer(req *http1.Request, resp *http1.Response) {
	resp.Status = 200
	resp.AddHeader("Content-Type", "text/plain")
	switch string(req.Path) {
	case "/1k":
		resp.Body = []byte(body1k)
		return
	case "/cookie": // the request's cookie fields, one a line
		var b []byte
		for _, h := range req.Headers {
			if http1.EqualFold(h.Name, "cookie") {
				b = append(append(b, h.Value...), '\n')
			}
		}
		resp.Body = b
		return
	case "/multi": // two parts from memory, the last with a Head only (as the site plans multipart/byteranges)
		resp.AddHeader("X-Parts", "2")
		resp.Parts = append(resp.Parts, http1.Part{Head: []byte("--b\r\n\r\n"), Data: []byte("hello")}, http1.Part{Head: []byte("\r\n--b--\r\n")})
		return
	}
	resp.Body = []byte("hello")
}

// streamBody writes 64 × 1 KiB.
type streamBody struct{}

func (streamBody) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for range 64 {
		m, err := io.WriteString(w, body1k)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// server is a test server: HTTP/2 over TLS, or h2c by prior knowledge.
type server struct {
	srv  *h2.Server
	addr string
	tls  *tls.Config // client config, nil for h2c
}

// startServer starts an HTTP/2 server with lim. It stops when the test
// ends.
func startServer(t testing.TB, useTLS bool, lim h2.Limits) *server {
	t.Helper()
	srv := &h2.Server{Handler: handler{}, Limits: lim, MaxBodyBytes: 64 << 10, ErrorLog: quietLog()}
	s := &server{srv: srv}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	if useTLS {
		cert := selfSigned(t)
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
		s.tls = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	})
	return s
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "h2 test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// quietLog drops the server's log lines (h2spec provokes many errors).
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
