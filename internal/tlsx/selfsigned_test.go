package tlsx_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/tlsx"
)

func TestSelfSigned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "weft", "dev-ca")
	o := tlsx.Options{SelfSigned: true, SelfSignedDir: dir, ExtraNames: []string{"Dev.Test", "192.0.2.7"}}
	m1 := newManager(t, o)
	caPath := m1.CAPath()
	if filepath.Dir(caPath) != dir {
		t.Fatalf("CAPath %q not in %q", caPath, dir)
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "ca-key.pem"): 0o600} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: %v, %v, want mode %04o", path, fi.Mode(), err, want)
			}
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}

	leaf := m1.Leaves()[0]
	if d := time.Until(leaf.NotAfter); d > 366*24*time.Hour {
		t.Errorf("leaf valid for %s", d)
	}
	host, _ := os.Hostname()
	for _, n := range []string{"localhost", "dev.test", strings.ToLower(host)} {
		if n != "" && !hasName(leaf, n) {
			t.Errorf("leaf names %v lack %q", leaf.DNSNames, n)
		}
	}

	addr := serve(t, m1.TLSConfig())
	for _, name := range []string{"localhost", "dev.test", ""} { // "": verified against the IP SAN 127.0.0.1
		c, err := dial(addr, &tls.Config{ServerName: name, RootCAs: roots})
		if err != nil {
			t.Errorf("%s as %q: %v", addr, name, err)
			continue
		}
		c.Close()
	}

	// A second start reuses the CA and issues a fresh leaf.
	m2 := newManager(t, o)
	caPEM2, err := os.ReadFile(m2.CAPath())
	if err != nil {
		t.Fatal(err)
	}
	if string(caPEM2) != string(caPEM) {
		t.Error("the second start made a new CA")
	}
	if m2.Leaves()[0].Equal(leaf) {
		t.Error("the second start reused the leaf")
	}
	if _, err := m2.Leaves()[0].Verify(x509.VerifyOptions{DNSName: "localhost", Roots: roots}); err != nil {
		t.Errorf("second leaf against the first CA: %v", err)
	}
	b, _ := pem.Decode(caPEM)
	if b == nil {
		t.Fatal("CA file is not PEM")
	}
	ca, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || !strings.HasPrefix(ca.Subject.CommonName, "weft development CA (") || ca.NotAfter.Before(time.Now().Add(9*365*24*time.Hour)) {
		t.Errorf("CA: IsCA %v, name %q, until %s", ca.IsCA, ca.Subject.CommonName, ca.NotAfter)
	}
}

func TestSelfSignedIncompleteCA(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := tlsx.New(tlsx.Options{SelfSigned: true, SelfSignedDir: dir})
	if err == nil || !strings.Contains(err.Error(), "remove "+dir) {
		t.Errorf("half a CA: %v", err)
	}
}

// Without SelfSigned there is no CA to trust.
func TestCAPathEmptyWithoutSelfSigned(t *testing.T) {
	ca := newTestCA(t)
	cert, key, _ := ca.issue(t, leafSpec{names: []string{"a.example"}})
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{writePair(t, t.TempDir(), "a", cert, key)}})
	if p := m.CAPath(); p != "" {
		t.Errorf("CAPath() = %q", p)
	}
}
