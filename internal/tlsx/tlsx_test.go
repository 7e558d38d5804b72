package tlsx_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/tlsx"
)

func TestSNISelection(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	aCert, aKey, a := ca.issue(t, leafSpec{names: []string{"a.example"}})
	bCert, bKey, b := ca.issue(t, leafSpec{names: []string{"b.example", "*.wild.example", "127.0.0.1"}})
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{
		writePair(t, dir, "a", aCert, aKey),
		writePair(t, dir, "b", bCert, bKey),
	}})
	addr := serve(t, m.TLSConfig())

	for _, tc := range []struct {
		sni  string
		want *x509.Certificate
	}{
		{"a.example", a},
		{"b.example", b},
		{"B.Example", b},
		{"x.wild.example", b},
		{"wild.example", a},     // a wildcard does not cover its parent: the default
		{"y.x.wild.example", a}, // nor two labels
		{"unknown.example", a},  // no match: the first pair
		{"", b},                 // no SNI: the leaf naming the local IP 127.0.0.1
	} {
		t.Run(tc.sni, func(t *testing.T) {
			got := leafOf(t, addr, insecure(tc.sni))
			if !got.Equal(tc.want) {
				t.Errorf("SNI %q: got %v, want %v", tc.sni, got.DNSNames, tc.want.DNSNames)
			}
		})
	}

	// A real client verifies the chosen leaf.
	if _, err := dial(addr, &tls.Config{ServerName: "b.example", RootCAs: ca.pool}); err != nil {
		t.Errorf("verified dial: %v", err)
	}
	if l := m.Leaves(); len(l) != 2 || !l[0].Equal(a) || !l[1].Equal(b) {
		t.Errorf("Leaves() = %v", l)
	}
}

func TestNoSNIWithoutIPMatchGetsFirst(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	aCert, aKey, a := ca.issue(t, leafSpec{names: []string{"a.example"}})
	bCert, bKey, _ := ca.issue(t, leafSpec{names: []string{"b.example"}})
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{
		writePair(t, dir, "a", aCert, aKey),
		writePair(t, dir, "b", bCert, bKey),
	}})
	if got := leafOf(t, serve(t, m.TLSConfig()), insecure("")); !got.Equal(a) {
		t.Errorf("no SNI: got %v, want the first pair", got.DNSNames)
	}
}

// Of an RSA and an ECDSA pair for the same name, each client gets one it can
// use, the first listed when it can use both.
func TestKeyTypeSelection(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	rCert, rKey, r := ca.issue(t, leafSpec{names: []string{"a.example"}, rsa: true})
	eCert, eKey, e := ca.issue(t, leafSpec{names: []string{"a.example"}})
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{
		writePair(t, dir, "rsa", rCert, rKey),
		writePair(t, dir, "ecdsa", eCert, eKey),
	}})
	addr := serve(t, m.TLSConfig())
	if got := leafOf(t, addr, insecure("a.example")); !got.Equal(r) {
		t.Errorf("any client: got %v, want the RSA leaf", got.PublicKeyAlgorithm)
	}
	ecdsaOnly := insecure("a.example")
	ecdsaOnly.MaxVersion = tls.VersionTLS12
	ecdsaOnly.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	if got := leafOf(t, addr, ecdsaOnly); !got.Equal(e) {
		t.Errorf("ECDSA-only client: got %v, want the ECDSA leaf", got.PublicKeyAlgorithm)
	}
}

func TestGetCertificateHook(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	fCert, fKey, f := ca.issue(t, leafSpec{names: []string{"file.example"}})
	hCert, hKey, h := ca.issue(t, leafSpec{names: []string{"acme.example"}})
	hooked, err := tls.X509KeyPair(hCert, hKey)
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t, tlsx.Options{
		Pairs: []tlsx.Pair{writePair(t, dir, "f", fCert, fKey)},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			switch hello.ServerName {
			case "acme.example":
				return &hooked, nil
			case "broken.example":
				return nil, errors.New("acme: no certificate yet")
			}
			return nil, nil
		},
	})
	addr := serve(t, m.TLSConfig())
	if got := leafOf(t, addr, insecure("acme.example")); !got.Equal(h) {
		t.Errorf("hook's name: got %v", got.DNSNames)
	}
	if got := leafOf(t, addr, insecure("other.example")); !got.Equal(f) {
		t.Errorf("not the hook's: got %v, want the file's", got.DNSNames)
	}
	if c, err := dial(addr, insecure("broken.example")); err == nil {
		c.Close()
		t.Error("a hook error did not fail the handshake")
	}
}

func TestProtocolFloor(t *testing.T) {
	ca := newTestCA(t)
	cert, key, _ := ca.issue(t, leafSpec{names: []string{"a.example"}, rsa: true})
	m := newManager(t, tlsx.Options{
		Pairs:      []tlsx.Pair{writePair(t, t.TempDir(), "a", cert, key)},
		NextProtos: []string{"h2", "http/1.1"},
	})
	addr := serve(t, m.TLSConfig())

	for _, tc := range []struct {
		name string
		cfg  func(*tls.Config)
		ok   bool
	}{
		{"TLS 1.3", func(c *tls.Config) {}, true},
		{"TLS 1.2 AEAD", func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, true},
		{"TLS 1.1", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, false},
		{"TLS 1.2 CBC only", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{ServerName: "a.example", RootCAs: ca.pool, NextProtos: []string{"h2"}}
			tc.cfg(cfg)
			c, err := dial(addr, cfg)
			if !tc.ok {
				if err == nil {
					c.Close()
					t.Fatal("handshake succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
				t.Errorf("ALPN: %q, want h2", p)
			}
		})
	}
}

func TestSessionResumption(t *testing.T) {
	ca := newTestCA(t)
	cert, key, _ := ca.issue(t, leafSpec{names: []string{"a.example"}})
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{writePair(t, t.TempDir(), "a", cert, key)}})
	// A clone, as http.Server.ServeTLS makes, follows the key rotation too.
	addr := serve(t, m.TLSConfig().Clone())

	resumes := func(t *testing.T, cfg *tls.Config) bool {
		t.Helper()
		c, err := dial(addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().DidResume
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			newClient := func() *tls.Config {
				return &tls.Config{ServerName: "a.example", RootCAs: ca.pool, MaxVersion: v, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			}
			c := newClient()
			if resumes(t, c) {
				t.Fatal("first connection resumed")
			}
			if !resumes(t, c) {
				t.Fatal("second connection did not resume")
			}

			// Tickets outlive two rotations and not three.
			c = newClient()
			resumes(t, c)
			for range 2 {
				if err := m.RotateTicketKeys(); err != nil {
					t.Fatal(err)
				}
			}
			if !resumes(t, c) {
				t.Error("ticket from two keys ago not accepted")
			}
			c = newClient()
			resumes(t, c)
			for range 3 {
				m.RotateTicketKeys()
			}
			if resumes(t, c) {
				t.Error("ticket from three keys ago accepted")
			}
		})
	}
}

func TestValidation(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	now := time.Now()
	good, goodKey, _ := ca.issue(t, leafSpec{names: []string{"a.example"}})
	_, otherKey, _ := other.issue(t, leafSpec{names: []string{"a.example"}})
	expired, expiredKey, _ := ca.issue(t, leafSpec{names: []string{"a.example"}, notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)})
	future, futureKey, _ := ca.issue(t, leafSpec{names: []string{"a.example"}, notAfter: now.Add(48 * time.Hour), notBefore: now.Add(time.Hour)})

	for _, tc := range []struct {
		name      string
		cert, key []byte
		missing   bool
		is        error
		contains  string
	}{
		{name: "missing file", missing: true, is: fs.ErrNotExist, contains: "no such file"},
		{name: "not PEM", cert: []byte("hello"), key: goodKey, is: tlsx.ErrNotPEM, contains: "a.pem"},
		{name: "swapped", cert: goodKey, key: good, contains: "swapped"},
		{name: "key mismatch", cert: good, key: otherKey, contains: "does not match"},
		{name: "expired", cert: expired, key: expiredKey, is: tlsx.ErrExpired, contains: "expired on"},
		{name: "not yet valid", cert: future, key: futureKey, is: tlsx.ErrNotYetValid, contains: "valid from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := tlsx.Pair{Cert: filepath.Join(dir, "a.pem"), Key: filepath.Join(dir, "a-key.pem")}
			if !tc.missing {
				p = writePair(t, dir, "a", tc.cert, tc.key)
			}
			_, err := tlsx.New(tlsx.Options{Pairs: []tlsx.Pair{p}, AllowInsecureKeyPerms: tc.missing})
			if err == nil {
				t.Fatal("New succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %q", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), "weft: tls: ") || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q: want the weft: tls: prefix and %q", err, tc.contains)
			}
		})
	}

	t.Run("expiring soon warns", func(t *testing.T) {
		cert, key, _ := ca.issue(t, leafSpec{names: []string{"a.example"}, notAfter: now.Add(72 * time.Hour)})
		log, buf := newLog()
		newManager(t, tlsx.Options{Pairs: []tlsx.Pair{writePair(t, t.TempDir(), "a", cert, key)}, Logger: log})
		if !strings.Contains(buf.String(), "expires soon") {
			t.Errorf("no warning in %q", buf)
		}
	})
	t.Run("clock from Options", func(t *testing.T) {
		p := writePair(t, t.TempDir(), "a", good, goodKey)
		_, err := tlsx.New(tlsx.Options{Pairs: []tlsx.Pair{p}, Now: func() time.Time { return now.Add(30 * 24 * time.Hour) }})
		if !errors.Is(err, tlsx.ErrExpired) {
			t.Errorf("a month later: %v, want expired", err)
		}
	})
	t.Run("nothing to serve", func(t *testing.T) {
		if _, err := tlsx.New(tlsx.Options{}); !errors.Is(err, tlsx.ErrNoCertificates) {
			t.Errorf("New(Options{}): %v", err)
		}
	})
}

func TestKeyPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	ca := newTestCA(t)
	cert, key, _ := ca.issue(t, leafSpec{names: []string{"a.example"}})
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o644} {
		p := writePair(t, t.TempDir(), "a", cert, key)
		if err := os.Chmod(p.Key, mode); err != nil {
			t.Fatal(err)
		}
		_, err := tlsx.New(tlsx.Options{Pairs: []tlsx.Pair{p}})
		if !errors.Is(err, tlsx.ErrInsecureKeyPerms) {
			t.Fatalf("mode %04o: %v, want refused", mode, err)
		}
		for _, want := range []string{p.Key, fmt.Sprintf("mode %04o", mode), "--tls-allow-insecure-key-perms"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %04o: error %q lacks %q", mode, err, want)
			}
		}
		newManager(t, tlsx.Options{Pairs: []tlsx.Pair{p}, AllowInsecureKeyPerms: true})
	}
	p := writePair(t, t.TempDir(), "a", cert, key)
	os.Chmod(p.Key, 0o400)
	newManager(t, tlsx.Options{Pairs: []tlsx.Pair{p}})
}
