package tlsx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestACMEOptionsRefused(t *testing.T) {
	ok := ACMEOptions{Domains: []string{"www.example.com"}}
	tests := []struct {
		name string
		edit func(o *ACMEOptions)
		want string // in the error
	}{
		{"no domains", func(o *ACMEOptions) { o.Domains = nil }, "no domains"},
		{"empty domain", func(o *ACMEOptions) { o.Domains = []string{""} }, "empty name"},
		{"wildcard", func(o *ACMEOptions) { o.Domains = []string{"*.example.com"} }, "DNS-01"},
		{"IPv4", func(o *ACMEOptions) { o.Domains = []string{"192.0.2.1"} }, "IP addresses"},
		{"IPv6", func(o *ACMEOptions) { o.Domains = []string{"[2001:db8::1]"} }, "IP addresses"},
		{"space", func(o *ACMEOptions) { o.Domains = []string{"www example.com"} }, "not allowed"},
		{"port", func(o *ACMEOptions) { o.Domains = []string{"example.com:443"} }, "not allowed"},
		{"empty label", func(o *ACMEOptions) { o.Domains = []string{"www..example.com"} }, "label"},
		{"leading hyphen", func(o *ACMEOptions) { o.Domains = []string{"-www.example.com"} }, "'-'"},
		{"long label", func(o *ACMEOptions) { o.Domains = []string{strings.Repeat("a", 64) + ".com"} }, "63"},
		{"unicode", func(o *ACMEOptions) { o.Domains = []string{"bücher.example"} }, "punycode"},
		{"localhost with Let's Encrypt", func(o *ACMEOptions) { o.Domains = []string{"localhost"} }, "not a public name"},
		{".internal with Let's Encrypt", func(o *ACMEOptions) { o.Domains = []string{"db.corp.internal"} }, "not a public name"},
		{"CA not https", func(o *ACMEOptions) { o.CA = "http://ca.example/dir" }, "https"},
		{"CA no host", func(o *ACMEOptions) { o.CA = "https:///dir" }, "no host"},
		{"CA not a URL", func(o *ACMEOptions) { o.CA = "https://ca example/%zz" }, "not a URL"},
		{"email", func(o *ACMEOptions) { o.Email = "Admin <admin@example.com>" }, "email"},
		{"both challenges off", func(o *ACMEOptions) { o.DisableHTTPChallenge, o.DisableTLSALPNChallenge = true, true }, "both challenges"},
		{"bad port", func(o *ACMEOptions) { o.HTTPPort = 70000 }, "HTTPPort"},
		{"ratio 1", func(o *ACMEOptions) { o.RenewalWindowRatio = 1 }, "RenewalWindowRatio"},
		{"ratio NaN", func(o *ACMEOptions) { o.RenewalWindowRatio = math.NaN() }, "RenewalWindowRatio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			o.Storage = t.TempDir()
			tt.edit(&o)
			a, err := NewACME(context.Background(), o)
			if err == nil {
				a.Stop()
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrACMEOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q: want ErrACMEOptions mentioning %q", err, tt.want)
			}
		})
	}
}

func TestACMEOptionsAccepted(t *testing.T) {
	// checkACMEOptions only: NewACME would start talking to Let's Encrypt.
	for _, o := range []ACMEOptions{
		{Domains: []string{"WWW.Example.COM.", "www.example.com", "xn--bcher-kva.example"}, Email: "admin@example.com"},
		{Domains: []string{"localhost", "db.internal"}, CA: "https://ca.internal:9000/acme/directory"},
		{Domains: []string{"example.com"}, DisableHTTPChallenge: true, RenewalWindowRatio: 0.5},
	} {
		if _, err := checkACMEOptions(&o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	domains, _ := checkACMEOptions(&ACMEOptions{Domains: []string{"WWW.Example.COM.", "www.example.com"}})
	if !slices.Equal(domains, []string{"www.example.com"}) {
		t.Errorf("domains %q, want them normalized and deduplicated", domains)
	}
}

func TestDefaultACMEStorage(t *testing.T) {
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9":
		t.Skip("XDG layout is for Unix")
	}
	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	if d, err := DefaultACMEStorage(); err != nil || d != "/xdg/data/weft/acme" {
		t.Errorf("with XDG_DATA_HOME: %q, %v", d, err)
	}
	t.Setenv("XDG_DATA_HOME", "relative/is/ignored")
	t.Setenv("HOME", "/home/weft")
	if d, err := DefaultACMEStorage(); err != nil || d != "/home/weft/.local/share/weft/acme" {
		t.Errorf("without XDG_DATA_HOME: %q, %v", d, err)
	}
}

// TestACMEPending: before a certificate exists, handshakes for a managed name
// fail with an alert, other names are left to the caller, and nothing answers
// challenges that are not ours. The CA is a closed port, so no certificate
// ever comes.
func TestACMEPending(t *testing.T) {
	t.Parallel()
	const domain = "pending.weft.test"
	a := newTestACME(t, ACMEOptions{
		Domains: []string{domain},
		CA:      "https://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/dir",
	})

	cert, err := a.GetCertificate(&tls.ClientHelloInfo{ServerName: "PENDING.weft.test."})
	if cert != nil || !errors.Is(err, ErrACMEPending) {
		t.Errorf("managed name without a certificate: %v, %v; want ErrACMEPending", cert, err)
	}
	for _, name := range []string{"other.weft.test", ""} {
		if cert, err := a.GetCertificate(&tls.ClientHelloInfo{ServerName: name}); cert != nil || err != nil {
			t.Errorf("name %q: %v, %v; want nil, nil for the caller's fallback", name, cert, err)
		}
	}
	challenge := &tls.ClientHelloInfo{ServerName: "other.weft.test", SupportedProtos: []string{"acme-tls/1"}}
	if cert, err := a.GetCertificate(challenge); cert != nil || err == nil {
		t.Errorf("TLS-ALPN-01 challenge for another name: %v, %v; want an error", cert, err)
	}
	if got := a.NextProtos(); !slices.Equal(got, []string{"acme-tls/1"}) {
		t.Errorf("NextProtos %q", got)
	}
	for _, target := range []string{
		"http://" + domain + "/.well-known/acme-challenge/unknowntoken",
		"http://other.weft.test/.well-known/acme-challenge/sometoken",
		"http://" + domain + "/index.html",
	} {
		w := httptest.NewRecorder()
		if a.HandleHTTPChallenge(w, httptest.NewRequest("GET", target, nil)) {
			t.Errorf("%s handled: %d %q", target, w.Code, w.Body)
		}
	}

	// Over a real listener, the client sees a handshake failure.
	ln := serveTLS(t, "127.0.0.1:0", a)
	_, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: domain, InsecureSkipVerify: true})
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("handshake before the certificate: %v; want an internal_error alert", err)
	}
	a.Stop()
	a.Stop() // twice is fine
}

// TestACMEHTTP01 obtains a certificate from pebble with only the HTTP-01
// challenge, answered by an http.Server calling HandleHTTPChallenge, and sees
// it served.
func TestACMEHTTP01(t *testing.T) {
	t.Parallel()
	const domain = "http01.weft.test"
	httpLn := listen(t, "127.0.0.1:0")
	p := startPebble(t, pebbleConfig{HTTPPort: port(httpLn), TLSPort: freePort(t)})
	a := newTestACME(t, ACMEOptions{
		Domains:                 []string{domain},
		CA:                      p.Directory,
		TrustedRoots:            p.APIRoots,
		HTTPPort:                port(httpLn),
		ListenHost:              "127.0.0.1",
		DisableTLSALPNChallenge: true,
	})
	if a.NextProtos() != nil {
		t.Errorf("NextProtos %q with TLS-ALPN-01 off", a.NextProtos())
	}
	challenges := serveHTTPChallenges(t, httpLn, a)
	tlsLn := serveTLS(t, "127.0.0.1:0", a)

	start := time.Now()
	leaf := waitForLeaf(t, tlsLn.Addr().String(), domain, p.Issuer, 30*time.Second, nil)
	t.Logf("certificate after %v: serial %x, issuer %q", time.Since(start).Round(time.Millisecond), leaf.SerialNumber, leaf.Issuer.CommonName)
	checkLeaf(t, leaf, domain)
	if n := challenges.Load(); n == 0 {
		t.Error("the certificate came without HandleHTTPChallenge answering anything")
	}
}

// TestACMETLSALPN01 obtains a certificate from pebble with only the
// TLS-ALPN-01 challenge, answered by a TLS listener using GetCertificate and
// NextProtos, and sees it served by that same listener.
func TestACMETLSALPN01(t *testing.T) {
	t.Parallel()
	const domain = "alpn.weft.test"
	// Listen before NewACME: otherwise certmagic may bind the port itself.
	tlsLn := serveTLS(t, "127.0.0.1:0", nil)
	tlsPort := port(tlsLn)
	p := startPebble(t, pebbleConfig{HTTPPort: freePort(t), TLSPort: tlsPort})
	a := newTestACME(t, ACMEOptions{
		Domains:              []string{domain},
		CA:                   p.Directory,
		TrustedRoots:         p.APIRoots,
		TLSALPNPort:          tlsPort,
		ListenHost:           "127.0.0.1",
		DisableHTTPChallenge: true,
	})
	tlsLn.set(a)
	w := httptest.NewRecorder()
	if a.HandleHTTPChallenge(w, httptest.NewRequest("GET", "http://"+domain+"/.well-known/acme-challenge/x", nil)) {
		t.Error("HandleHTTPChallenge answered with HTTP-01 off")
	}

	start := time.Now()
	leaf := waitForLeaf(t, tlsLn.Addr().String(), domain, p.Issuer, 30*time.Second, nil)
	t.Logf("certificate after %v: serial %x, issuer %q", time.Since(start).Round(time.Millisecond), leaf.SerialNumber, leaf.Issuer.CommonName)
	checkLeaf(t, leaf, domain)
	if n := tlsLn.challenges.Load(); n == 0 {
		t.Error("the certificate came without a TLS-ALPN-01 handshake on our listener")
	}
}

// TestACMERenewal: pebble issues certificates valid for a minute and
// renewal starts once 90% of that is left (about 6 s after issuance), so a
// second certificate (another serial) must be served by the same ACME
// without a restart. Renewal can come sooner: pebble's renewal information
// (ARI) suggests a window spanning the whole lifetime of so short a
// certificate, and certmagic renews at a random time inside it.
func TestACMERenewal(t *testing.T) {
	t.Parallel()
	const domain = "renew.weft.test"
	httpLn := listen(t, "127.0.0.1:0")
	p := startPebble(t, pebbleConfig{HTTPPort: port(httpLn), TLSPort: freePort(t), Validity: 60})
	o := ACMEOptions{
		Domains:                 []string{domain},
		CA:                      p.Directory,
		TrustedRoots:            p.APIRoots,
		HTTPPort:                port(httpLn),
		ListenHost:              "127.0.0.1",
		DisableTLSALPNChallenge: true,
		RenewalWindowRatio:      0.9,
	}
	o.renewCheckInterval = time.Second
	a := newTestACME(t, o)
	if a.cfg.RenewalWindowRatio != 0.9 {
		t.Fatalf("certmagic's RenewalWindowRatio is %v, want 0.9", a.cfg.RenewalWindowRatio)
	}
	serveHTTPChallenges(t, httpLn, a)
	tlsLn := serveTLS(t, "127.0.0.1:0", a)

	start := time.Now()
	first := waitForLeaf(t, tlsLn.Addr().String(), domain, p.Issuer, 30*time.Second, nil)
	checkLeaf(t, first, domain)
	if life := first.NotAfter.Sub(first.NotBefore); life > 2*time.Minute {
		t.Fatalf("pebble issued a certificate for %v, want about a minute", life)
	}
	t.Logf("first certificate after %v: serial %x, valid %v", time.Since(start).Round(time.Millisecond), first.SerialNumber, first.NotAfter.Sub(first.NotBefore))
	second := waitForLeaf(t, tlsLn.Addr().String(), domain, p.Issuer, 40*time.Second, first.SerialNumber)
	checkLeaf(t, second, domain)
	t.Logf("renewed after %v: serial %x", time.Since(start).Round(time.Millisecond), second.SerialNumber)
	if second.NotBefore.Before(first.NotBefore) {
		t.Errorf("renewed certificate is older: %v < %v", second.NotBefore, first.NotBefore)
	}
}

// newTestACME starts an ACME with storage in a temporary directory and logs
// into a buffer that is shown if the test fails; it is stopped when the test
// ends.
func newTestACME(t *testing.T, o ACMEOptions) *ACME {
	t.Helper()
	// Not t.TempDir: a cancelled obtain or renewal may still write to
	// storage for a moment after Stop, which would fail its cleanup.
	dir, err := os.MkdirTemp("", "weft-acme-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		time.Sleep(100 * time.Millisecond)
		_ = os.RemoveAll(dir)
	})
	o.Storage = filepath.Join(dir, "acme")
	logs := new(lockedBuffer)
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := NewACME(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			t.Logf("ACME logs:\n%s", logs.String())
		}
	})
	return a
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// serveHTTPChallenges serves HTTP on ln the way the server's plain listener
// would: challenges first, 404 for the rest. It counts answered challenges.
func serveHTTPChallenges(t *testing.T, ln net.Listener, a *ACME) *atomic.Int64 {
	n := new(atomic.Int64)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a.HandleHTTPChallenge(w, r) {
				n.Add(1)
				return
			}
			http.NotFound(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return n
}

// tlsListener completes TLS handshakes the way the server would set up its
// listener (ACME's GetCertificate first, its NextProtos added to ALPN) and
// then closes the connection.
type tlsListener struct {
	net.Listener
	acme       chan *ACME   // holds the ACME once set
	challenges atomic.Int64 // handshakes that negotiated acme-tls/1
}

// serveTLS listens on addr; a may be nil and set later (before any
// handshake needs it), so the listener can exist before the ACME.
func serveTLS(t *testing.T, addr string, a *ACME) *tlsListener {
	t.Helper()
	l := &tlsListener{Listener: listen(t, addr), acme: make(chan *ACME, 1)}
	if a != nil {
		l.set(a)
	}
	acmeOf := func() *ACME { a := <-l.acme; l.acme <- a; return a }
	cfg := &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			a := acmeOf()
			return &tls.Config{
				NextProtos: append([]string{"http/1.1"}, a.NextProtos()...),
				GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
					cert, err := a.GetCertificate(hello)
					if cert == nil && err == nil {
						err = errors.New("test server: no fallback certificate")
					}
					return cert, err
				},
			}, nil
		},
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if tc.HandshakeContext(ctx) == nil && tc.ConnectionState().NegotiatedProtocol == "acme-tls/1" {
					l.challenges.Add(1)
				}
			}()
		}
	}()
	return l
}

func (l *tlsListener) set(a *ACME) { l.acme <- a }

// waitForLeaf dials addr with SNI name until a handshake verified against
// roots succeeds with a leaf whose serial is not notSerial, and returns it.
func waitForLeaf(t *testing.T, addr, name string, roots *x509.CertPool, limit time.Duration, notSerial *big.Int) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		d := &tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"http/1.1"}}}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := d.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			leaf := c.(*tls.Conn).ConnectionState().PeerCertificates[0]
			c.Close()
			if notSerial == nil || leaf.SerialNumber.Cmp(notSerial) != 0 {
				return leaf
			}
			err = errors.New("still the certificate with serial " + notSerial.Text(16))
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no certificate for %s on %s within %v: last: %v", name, addr, limit, last)
	return nil
}

func checkLeaf(t *testing.T, leaf *x509.Certificate, name string) {
	t.Helper()
	if !slices.Equal(leaf.DNSNames, []string{name}) {
		t.Errorf("leaf names %q, want [%q]", leaf.DNSNames, name)
	}
	if !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Errorf("leaf issued by %q, want pebble's intermediate", leaf.Issuer.CommonName)
	}
}
