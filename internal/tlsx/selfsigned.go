package tlsx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	caCertFile   = "ca.pem"
	caKeyFile    = "ca-key.pem"
)

// selfSigned issues the development leaf from the CA in SelfSignedDir,
// creating the CA the first time. It returns the leaf and the CA's path.
func (m *Manager) selfSigned() (*entry, string, error) {
	dir := m.opts.SelfSignedDir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, "", fmt.Errorf("weft: tls: no folder for the development CA (%w); name one", err)
		}
		dir = filepath.Join(base, "weft", "dev-ca")
	}
	host, _ := os.Hostname()
	ca, caKey, err := m.devCA(dir, host)
	if err != nil {
		return nil, "", err
	}
	cert, err := issueLeaf(ca, caKey, leafNames(host, m.opts.ExtraNames), m.now())
	if err != nil {
		return nil, "", err
	}
	e, err := m.newEntry(cert, "self-signed certificate")
	if err != nil {
		return nil, "", err
	}
	return e, filepath.Join(dir, caCertFile), nil
}

// devCA loads the CA in dir, or creates it when dir holds none.
func (m *Manager) devCA(dir, host string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, errCert := os.ReadFile(certPath)
	keyPEM, errKey := os.ReadFile(keyPath)
	switch {
	case errors.Is(errCert, fs.ErrNotExist) && errors.Is(errKey, fs.ErrNotExist):
		return m.createCA(dir, host)
	case errCert != nil:
		return nil, nil, fmt.Errorf("weft: tls: development CA: %w (remove %s to create a new CA)", errCert, dir)
	case errKey != nil:
		return nil, nil, fmt.Errorf("weft: tls: development CA: %w (remove %s to create a new CA)", errKey, dir)
	}
	if !m.opts.AllowInsecureKeyPerms {
		if err := checkKeyPerms(keyPath); err != nil {
			return nil, nil, err
		}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("weft: tls: development CA in %s: %w (remove the folder to create a new CA)", dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !pair.Leaf.IsCA {
		return nil, nil, fmt.Errorf("weft: tls: %s is not a development CA made by weft (remove the folder to create a new CA)", dir)
	}
	if !m.now().Add(24 * time.Hour).Before(pair.Leaf.NotAfter) {
		m.log.Warn("weft: tls: the development CA has expired; creating a new one, which browsers must be told to trust again", "ca", certPath)
		return m.createCA(dir, host)
	}
	return pair.Leaf, key, nil
}

// createCA makes a new CA in dir (created 0700), its key 0600.
func (m *Manager) createCA(dir, host string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("weft: tls: development CA key: %w", err)
	}
	if host == "" {
		host = "unknown host"
	}
	now := m.now()
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "weft development CA (" + host + ")", Organization: []string{"weft development CA"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("weft: tls: development CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("weft: tls: development CA: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("weft: tls: development CA key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("weft: tls: development CA: %w", err)
	}
	// The key first: a cert without its key is refused at the next start.
	if err := writeFileAtomic(filepath.Join(dir, caKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	certPath := filepath.Join(dir, caCertFile)
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	m.log.Info("weft: tls: created a development CA; trust it to browse without warnings", "ca", certPath)
	return ca, key, nil
}

// writeFileAtomic writes data to path through a temporary file renamed over
// it, so that path never holds half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("weft: tls: development CA: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("weft: tls: development CA: %w", err)
	}
	return nil
}

// leafNames are the names of the development leaf: localhost, the loopback
// addresses, the host name and extra, without repeats.
func leafNames(host string, extra []string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, n := range append([]string{host}, extra...) {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if ip := net.ParseIP(n); ip != nil {
			n = ip.String()
		}
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

// issueLeaf issues a server certificate for names (DNS names or IP
// addresses) from ca, with a new P-256 key, valid a year or until the CA
// expires.
func issueLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("weft: tls: self-signed key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"weft development"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("weft: tls: self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("weft: tls: self-signed certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("weft: tls: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
