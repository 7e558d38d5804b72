package httpadapt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/httpadapt"
)

// testCert is a self-signed certificate for 127.0.0.1.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startFront runs a Front over a fresh loopback listener until the test
// ends.
func startFront(t *testing.T, o httpadapt.FrontOptions) (*httpadapt.Front, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := httpadapt.NewFront(ln, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Front.Run did not return after its context ended")
		}
	})
	return f, ln.Addr().String()
}

// accept takes one connection from l, failing after a while.
func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			ch <- c
		}
	}()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection came out of the front")
		return nil
	}
}

func TestFrontSortsTLSByALPN(t *testing.T) {
	cert, pool := testCert(t)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1", "acme-tls/1"}}
	f, addr := startFront(t, httpadapt.FrontOptions{TLS: conf})
	for _, tc := range []struct {
		alpn []string
		h2   bool
	}{{nil, false}, {[]string{"http/1.1"}, false}, {[]string{"h2", "http/1.1"}, true}} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: tc.alpn})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		l := f.H1()
		if tc.h2 {
			l = f.H2()
		}
		got := accept(t, l)
		tcGot, ok := got.(*tls.Conn)
		if !ok {
			t.Fatalf("ALPN %v: a %T came out; net/http needs the *tls.Conn", tc.alpn, got)
		}
		if p := tcGot.ConnectionState().NegotiatedProtocol; tc.h2 != (p == "h2") {
			t.Fatalf("ALPN %v: sorted wrongly (negotiated %q)", tc.alpn, p)
		}
		// The connection works end to end through the front.
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		got.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(got, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("ALPN %v: read %q, %v", tc.alpn, buf, err)
		}
	}
	// A TLS-ALPN-01 validation ends after its handshake: nothing comes out.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"acme-tls/1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("acme-tls/1 connection stayed open and sent data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("acme-tls/1 connection left open after the handshake")
	}
}

// TestFrontSilentHandshake: a client that connects and says nothing is cut
// at the handshake timeout, and others get through meanwhile.
func TestFrontSilentHandshake(t *testing.T) {
	cert, pool := testCert(t)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	f, addr := startFront(t, httpadapt.FrontOptions{TLS: conf, HandshakeTimeout: 300 * time.Millisecond, MaxPending: 4})
	var silent []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("a client behind silent ones: %v", err)
	}
	defer c.Close()
	accept(t, f.H1())
	for i, s := range silent {
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := s.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("silent client %d still open 5 s after a 300 ms handshake timeout", i)
		}
	}
}

// TestFrontCleartextPreface: with h2c, a connection opening with the
// HTTP/2 preface goes to H2, anything else (even a request shorter than
// the preface, which must not wait for more bytes) to H1, with the bytes
// read to decide given back first.
func TestFrontCleartextPreface(t *testing.T) {
	f, addr := startFront(t, httpadapt.FrontOptions{H2C: true, HandshakeTimeout: 5 * time.Second})
	for _, tc := range []struct {
		send string
		h2   bool
	}{
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00", true},
		{"GET / HTTP/1.0\r\n\r\n", false}, // 18 bytes: shorter than the preface
		{"PRI / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"P", false}, // then EOF: given to HTTP/1.1, which answers or closes
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(tc.send))
		if tc.send == "P" {
			c.(*net.TCPConn).CloseWrite()
		}
		l := f.H1()
		if tc.h2 {
			l = f.H2()
		}
		got := accept(t, l)
		got.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(tc.send))
		if _, err := io.ReadFull(got, buf); err != nil || string(buf) != tc.send {
			t.Fatalf("%q: re-read %q, %v", tc.send, buf, err)
		}
		c.Close()
	}
}

// TestFrontCleartextUpgrade: with h2c and Upgrade set, a request asking
// for h2c goes to Upgrade with its head and its HTTP2-Settings value, the
// connection reading on after the head; every other request (no upgrade,
// one Upgrade refuses, a head that arrives in pieces, one past the head
// limit) goes to H1 with every byte read given back first.
func TestFrontCleartextUpgrade(t *testing.T) {
	type call struct {
		nc             net.Conn
		head, settings string
	}
	calls := make(chan call, 1)
	f, addr := startFront(t, httpadapt.FrontOptions{
		H2C: true, HandshakeTimeout: 5 * time.Second, HeadLimits: http1.Limits{MaxHeadBytes: 2048},
		Upgrade: func(nc net.Conn, head, settings []byte) bool {
			if string(settings) == "refuse" {
				return false
			}
			calls <- call{nc, string(head), string(settings)}
			return true
		},
	})
	up := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABk\r\n\r\n"
	for _, tc := range []struct {
		name   string
		send   []string // written one after the other
		toUp   bool
		rest   string // what the upgraded connection reads next
		reread string // what H1 reads first (all sent, else)
	}{
		{name: "upgrade", send: []string{up + "PRI * HTTP/2.0"}, toUp: true, rest: "PRI * HTTP/2.0"},
		{name: "upgrade in pieces", send: []string{up[:10], up[10:40], up[40:]}, toUp: true},
		{name: "plain", send: []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\n"}},
		{name: "plain in pieces", send: []string{"GET / HTTP/1.1\r\nHo", "st: x\r\n\r\n"}},
		{name: "refused", send: []string{strings.Replace(up, "AAMAAABk", "refuse", 1)}},
		{name: "body", send: []string{strings.Replace(up, "\r\n\r\n", "\r\nContent-Length: 2\r\n\r\nab", 1)}},
		{name: "past the limit", send: []string{"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 3000) + "\r\n\r\n"},
			reread: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 2048-len("GET / HTTP/1.1\r\nX: "))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, p := range tc.send {
				c.Write([]byte(p))
				time.Sleep(20 * time.Millisecond) // separate reads on the server (not asserted)
			}
			all := strings.Join(tc.send, "")
			if tc.toUp {
				var got call
				select {
				case got = <-calls:
				case <-time.After(5 * time.Second):
					t.Fatal("Upgrade not called")
				}
				defer got.nc.Close()
				if got.head != up || got.settings != "AAMAAABk" {
					t.Fatalf("Upgrade got head %q, settings %q", got.head, got.settings)
				}
				if tc.rest != "" {
					got.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
					buf := make([]byte, len(tc.rest))
					if _, err := io.ReadFull(got.nc, buf); err != nil || string(buf) != tc.rest {
						t.Fatalf("upgraded conn reads %q, %v; want %q", buf, err, tc.rest)
					}
				}
				return
			}
			want := tc.reread
			if want == "" {
				want = all
			}
			got := accept(t, f.H1())
			got.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, len(want))
			if _, err := io.ReadFull(got, buf); err != nil || string(buf) != want {
				t.Fatalf("H1 re-reads %q, %v; want %q", buf, err, want)
			}
			select {
			case c := <-calls:
				t.Fatalf("Upgrade called with %q", c.head)
			default:
			}
		})
	}
}

// TestFrontStops: Run returns when its context ends, closing H1 and H2.
func TestFrontStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := httpadapt.NewFront(ln, httpadapt.FrontOptions{H2C: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := f.H1().Accept(); err == nil {
		t.Fatal("H1 still accepts after Run returned")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("the listener still accepts after Run returned")
	}
}

// TestFrontStopsWithSilentCleartextClient: with h2c, a client that
// connected and has not sent its first bytes yet (a browser's speculative
// connection) must not hold Run past the end of its context for the
// whole handshake timeout: a TLS handshake ends with the context, and so
// must the read of the preface.
func TestFrontStopsWithSilentCleartextClient(t *testing.T) {
	upgrade := func(net.Conn, []byte, []byte) bool { return false }
	for _, partial := range []string{"", "PRI * HT", "GET / HTTP/1.1\r\nHost"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f := httpadapt.NewFront(ln, httpadapt.FrontOptions{H2C: true, HandshakeTimeout: time.Minute, Upgrade: upgrade})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(partial))
		time.Sleep(100 * time.Millisecond) // accepted, being sorted
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("sent %q: Run still waiting 5 s after its context ended (handshake timeout 1 min)", partial)
		}
	}
}
