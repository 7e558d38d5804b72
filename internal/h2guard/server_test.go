package h2guard_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/h2guard"
)

// body1k is what /1k serves; every other path serves "hello" (/slow
// after 50 ms).
var body1k = strings.Repeat("x", 1024)

func handler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	switch r.URL.Path {
	case "/slow": // a handler that takes a while, unless the stream is reset
		select {
		case <-r.Context().Done():
		case <-time.After(50 * time.Millisecond):
		}
	case "/1k":
		w.Write([]byte(body1k))
		return
	}
	w.Write([]byte("hello"))
}

// server is a test server: HTTP/2 over TLS, or h2c by prior knowledge.
type server struct {
	srv  *http.Server
	addr string
	tls  *tls.Config // client config, nil for h2c
}

// startServer starts an HTTP/2 server configured with lim and, if guard,
// with the guard installed. It stops when the test ends.
func startServer(t testing.TB, useTLS, guard bool, lim h2guard.Limits) *server {
	t.Helper()
	var p http.Protocols
	p.SetHTTP1(true)
	if useTLS {
		p.SetHTTP2(true)
	} else {
		// h2c only: on a port that also speaks HTTP/1, a bad preface is an
		// HTTP/1 request (400), not an HTTP/2 connection error (h2spec 3.5/2).
		// H2CListener below closes such a connection cleanly.
		p.SetHTTP1(false)
		p.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{Handler: h2guard.ConsumeBody(http.HandlerFunc(handler), 64<<10), Protocols: &p, ErrorLog: quietLog()}
	h2guard.Configure(srv, lim)
	s := &server{srv: srv}
	if useTLS {
		cert := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
		s.tls = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	}
	if guard {
		if err := h2guard.Install(srv, lim); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if useTLS {
			srv.Serve(tls.NewListener(ln, srv.TLSConfig))
		} else {
			srv.Serve(h2guard.H2CListener(ln))
		}
	}()
	t.Cleanup(func() {
		srv.Close()
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
		Subject:      pkix.Name{CommonName: "h2guard test"},
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
