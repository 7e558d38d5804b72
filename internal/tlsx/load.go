package tlsx

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// An entry is one certificate served.
type entry struct {
	pair   Pair     // zero for the self-signed leaf
	sum    [32]byte // of the files' contents, to tell a change
	leaf   *x509.Certificate
	issuer *x509.Certificate // the leaf's issuer when the chain holds it, for OCSP

	// cert is what handshakes get. It is replaced whole, never modified,
	// when its OCSP staple changes: handshakes in flight hold the old one.
	cert atomic.Pointer[tls.Certificate]
}

// A certSet is every certificate served at one time, indexed by name. It is
// never modified once installed; a reload installs a new set.
type certSet struct {
	entries    []*entry
	byName     map[string][]*entry // exact DNS names, lower case
	byWildcard map[string][]*entry // "*.example.com" under "example.com"
	byIP       map[string][]*entry // net.IP.To16 as a string

	ctx    context.Context // done when the set is replaced: stops its OCSP refreshers
	cancel context.CancelFunc
}

// load reads every pair into a new set. When every file has the same
// contents as in old, it returns old itself.
func (m *Manager) load(old *certSet) (*certSet, error) {
	entries := make([]*entry, 0, len(m.opts.Pairs)+1)
	same := old != nil
	for i, p := range m.opts.Pairs {
		e, err := m.loadPair(p)
		if err != nil {
			return nil, err
		}
		if same && (i >= len(old.entries) || old.entries[i].sum != e.sum) {
			same = false
		}
		entries = append(entries, e)
	}
	if same {
		return old, nil
	}
	now := m.now()
	for _, e := range entries {
		if left := e.leaf.NotAfter.Sub(now); left < expiryWarning {
			m.log.Warn("weft: tls: certificate expires soon", "cert", e.pair.Cert,
				"not_after", e.leaf.NotAfter.UTC().Format(time.RFC3339), "left", left.Round(time.Minute).String())
		}
		if old != nil {
			e.carryStaple(old)
		}
	}
	if m.self != nil {
		entries = append(entries, m.self)
	}
	return index(entries), nil
}

// carryStaple starts e with the staple of the same leaf in old, so that a
// reload does not drop a valid staple until the next fetch.
func (e *entry) carryStaple(old *certSet) {
	for _, o := range old.entries {
		if string(o.leaf.Raw) != string(e.leaf.Raw) {
			continue
		}
		if staple := o.cert.Load().OCSPStaple; staple != nil {
			c := *e.cert.Load()
			c.OCSPStaple = staple
			e.cert.Store(&c)
		}
		return
	}
}

func index(entries []*entry) *certSet {
	s := &certSet{
		entries:    entries,
		byName:     make(map[string][]*entry),
		byWildcard: make(map[string][]*entry),
		byIP:       make(map[string][]*entry),
	}
	for _, e := range entries {
		for _, n := range e.leaf.DNSNames {
			n = strings.TrimSuffix(strings.ToLower(n), ".")
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				s.byWildcard[rest] = append(s.byWildcard[rest], e)
			} else {
				s.byName[n] = append(s.byName[n], e)
			}
		}
		for _, ip := range e.leaf.IPAddresses {
			k := string(ip.To16())
			s.byIP[k] = append(s.byIP[k], e)
		}
	}
	return s
}

// loadPair reads and validates one pair.
func (m *Manager) loadPair(p Pair) (*entry, error) {
	if !m.opts.AllowInsecureKeyPerms {
		if err := checkKeyPerms(p.Key); err != nil {
			return nil, err
		}
	}
	certPEM, err := os.ReadFile(p.Cert)
	if err != nil {
		return nil, fmt.Errorf("weft: tls: certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		return nil, fmt.Errorf("weft: tls: private key: %w", err)
	}
	if err := checkPEM(p.Cert, certPEM, false); err != nil {
		return nil, err
	}
	if err := checkPEM(p.Key, keyPEM, true); err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("weft: tls: certificate %s with key %s: %w", p.Cert, p.Key, err)
	}
	e, err := m.newEntry(&cert, p.Cert)
	if err != nil {
		return nil, err
	}
	e.pair = p
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	h.Sum(e.sum[:0])
	return e, nil
}

// checkPEM tells a file without PEM data, or with the other kind of data
// (certificate and key swapped), apart from a malformed one, which
// tls.X509KeyPair reports.
func checkPEM(path string, data []byte, wantKey bool) error {
	var certs, keys int
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			certs++
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			keys++
		}
	}
	switch {
	case certs+keys == 0:
		what := "certificate"
		if wantKey {
			what = "private key"
		}
		return fmt.Errorf("%w: %s holds no PEM %s (\"-----BEGIN ...\"); a DER file converts with openssl", ErrNotPEM, path, what)
	case wantKey && keys == 0:
		return fmt.Errorf("weft: tls: %s holds a certificate, not a private key: are certificate and key swapped?", path)
	case !wantKey && certs == 0:
		return fmt.Errorf("weft: tls: %s holds a private key, not a certificate: are certificate and key swapped?", path)
	}
	return nil
}

// newEntry validates cert (named name in errors) for serving now.
func (m *Manager) newEntry(cert *tls.Certificate, name string) (*entry, error) {
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("weft: tls: %s: %w", name, err)
		}
		cert.Leaf = leaf
	}
	now := m.now()
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("%w: %s is valid from %s, in %s (is the clock right?)", ErrNotYetValid, name,
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotBefore.Sub(now).Round(time.Second))
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%w: %s expired on %s", ErrExpired, name, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	e := &entry{leaf: leaf}
	for i, der := range cert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("weft: tls: %s: chain certificate %d: %w", name, i+2, err)
		}
		if e.issuer == nil && leaf.CheckSignatureFrom(c) == nil {
			e.issuer = c
		}
	}
	if e.issuer == nil && len(cert.Certificate) == 1 && len(leaf.IssuingCertificateURL) > 0 {
		m.log.Warn("weft: tls: the certificate file holds only the leaf, not its issuer: clients that do not fetch intermediates will fail; serve the full chain (fullchain.pem)", "cert", name)
	}
	e.cert.Store(cert)
	return e, nil
}
