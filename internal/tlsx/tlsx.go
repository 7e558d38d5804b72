package tlsx

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Pair names the PEM files of one certificate: Cert holds the leaf, possibly
// followed by its chain, and Key its private key.
type Pair struct{ Cert, Key string }

// Options configures a Manager. At least one of Pairs, SelfSigned and
// GetCertificate must be given.
type Options struct {
	// Pairs are selected by SNI (the leaf's DNS names and IP addresses,
	// wildcards included); the first is the default for a ClientHello
	// without SNI or without a matching name.
	Pairs []Pair
	// AllowInsecureKeyPerms accepts key files that group or others may read
	// or write (mode & 0o077 != 0); otherwise they are refused.
	AllowInsecureKeyPerms bool
	// SelfSigned issues a leaf from a local development CA (see the package
	// doc). It comes after Pairs in the selection.
	SelfSigned bool
	// SelfSignedDir is where the development CA lives; "" is
	// filepath.Join(os.UserConfigDir(), "weft", "dev-ca").
	SelfSignedDir string
	// ExtraNames are more DNS names or IP addresses for the self-signed leaf.
	ExtraNames []string
	// NextProtos is the ALPN list of the config, e.g. {"h2", "http/1.1"}.
	NextProtos []string
	// GetCertificate, when set, is asked first (ACME plugs in here). A nil
	// certificate and a nil error mean "not mine": the files are tried next.
	// An error fails the handshake.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Logger receives warnings (OCSP failures, reload failures, expiring
	// certificates); nil is slog.Default().
	Logger *slog.Logger
	// Now is the clock for validity checks; nil is time.Now.
	Now func() time.Time
}

// Errors that New and Reload wrap, for errors.Is; the wrapping error names
// the file and what to do.
var (
	ErrNoCertificates   = errors.New("weft: tls: no certificates")
	ErrNotPEM           = errors.New("weft: tls: no PEM data")
	ErrInsecureKeyPerms = errors.New("weft: tls: key file readable or writable by group or others")
	ErrExpired          = errors.New("weft: tls: certificate expired")
	ErrNotYetValid      = errors.New("weft: tls: certificate not yet valid")
	ErrClosed           = errors.New("weft: tls: manager closed")
)

const (
	expiryWarning  = 7 * 24 * time.Hour
	ticketRotation = 12 * time.Hour
	ticketKeysKept = 3
)

// A Manager owns a set of certificates and the tls.Config that serves them.
type Manager struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	cfg     *tls.Config
	tickets *tls.Config // holds the rotating ticket keys; cfg wraps sessions with it
	set     atomic.Pointer[certSet]
	self    *entry // the self-signed leaf, issued once per New; nil without SelfSigned
	caPath  string
	fetcher *ocspFetcher

	reloadMu sync.Mutex // serialises Reload

	ticketMu   sync.Mutex
	ticketRing [][32]byte // newest first

	ctx    context.Context // done at Close; parent of every goroutine's context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New loads and validates every certificate of o, creates or reuses the
// development CA when o.SelfSigned is set, and starts the background work
// (ticket key rotation, OCSP stapling). Close stops it.
func New(o Options) (*Manager, error) { return newManager(o, time.Minute) }

// newManager is New with the first OCSP retry delay (tests shorten it).
func newManager(o Options, ocspRetry time.Duration) (*Manager, error) {
	if len(o.Pairs) == 0 && !o.SelfSigned && o.GetCertificate == nil {
		return nil, fmt.Errorf("%w: give a certificate and key, or ask for a self-signed certificate", ErrNoCertificates)
	}
	m := &Manager{opts: o, log: o.Logger, now: o.Now}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.fetcher = newOCSPFetcher(m.log, m.now, ocspRetry)
	if o.SelfSigned {
		self, caPath, err := m.selfSigned()
		if err != nil {
			return nil, err
		}
		m.self, m.caPath = self, caPath
	}
	set, err := m.load(nil)
	if err != nil {
		return nil, err
	}

	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.tickets = &tls.Config{}
	if err := m.rotateTicketKeys(); err != nil {
		m.cancel()
		return nil, err
	}
	m.cfg = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   tls12Suites(),
		GetCertificate: m.getCertificate,
		NextProtos:     append([]string(nil), o.NextProtos...),
		WrapSession:    m.tickets.EncryptTicket,
		UnwrapSession:  m.tickets.DecryptTicket,
	}
	m.install(set)
	m.wg.Add(1)
	go m.rotateTickets()
	return m, nil
}

// tls12Suites are the TLS 1.2 suites offered: ECDHE with an AEAD cipher.
// Go orders them by the hardware (AES-NI or not); TLS 1.3 suites are not
// configurable and all are AEAD.
func tls12Suites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// TLSConfig returns the config that serves the Manager's certificates. It is
// shared and must not be modified; a clone may be, and follows the changes
// too. Certificates and session ticket keys change under it without a new
// config. Give http.Server a clone: its HTTP/2 setup appends "h2" to
// TLSConfig.NextProtos in place.
func (m *Manager) TLSConfig() *tls.Config { return m.cfg }

// CAPath is the development CA certificate to trust when SelfSigned is set,
// and "" otherwise.
func (m *Manager) CAPath() string { return m.caPath }

// Leaves returns the leaf certificates currently served, pairs in order and
// then the self-signed leaf.
func (m *Manager) Leaves() []*x509.Certificate {
	set := m.set.Load()
	leaves := make([]*x509.Certificate, len(set.entries))
	for i, e := range set.entries {
		leaves[i] = e.leaf
	}
	return leaves
}

// Close stops ticket key rotation, OCSP refreshes and Watch, and waits for
// them. The config keeps serving the current certificates.
func (m *Manager) Close() error {
	m.reloadMu.Lock() // no reload starts OCSP refreshers after this
	m.cancel()
	m.reloadMu.Unlock()
	m.wg.Wait()
	return nil
}

// Reload re-reads every pair. On any error it keeps the current set entirely
// and returns the error; unchanged files change nothing.
func (m *Manager) Reload() error {
	_, err := m.reload()
	return err
}

func (m *Manager) reload() (changed bool, err error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if m.ctx.Err() != nil {
		return false, ErrClosed
	}
	old := m.set.Load()
	set, err := m.load(old)
	if err != nil {
		return false, err
	}
	if set == old {
		return false, nil
	}
	m.install(set)
	old.cancel()
	return true, nil
}

// install makes set current and starts its OCSP refreshers, which stop when
// the set is replaced or the Manager closed.
func (m *Manager) install(set *certSet) {
	set.ctx, set.cancel = context.WithCancel(m.ctx)
	for _, e := range set.entries {
		if e.leaf.OCSPServer != nil && e.issuer != nil {
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				m.fetcher.staple(set.ctx, e)
			}()
		}
	}
	m.set.Store(set)
}

// getCertificate is the config's GetCertificate.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m.opts.GetCertificate != nil {
		c, err := m.opts.GetCertificate(hello)
		if c != nil || err != nil {
			return c, err
		}
	}
	if e := m.set.Load().choose(hello); e != nil {
		return e.cert.Load(), nil
	}
	return nil, fmt.Errorf("%w for server name %q", ErrNoCertificates, hello.ServerName)
}

// choose picks the entry for hello, or nil when the set is empty.
func (s *certSet) choose(hello *tls.ClientHelloInfo) *entry {
	if len(s.entries) == 0 {
		return nil
	}
	var cands []*entry
	if name := strings.TrimSuffix(strings.ToLower(hello.ServerName), "."); name != "" {
		cands = s.byName[name]
		if cands == nil {
			if i := strings.IndexByte(name, '.'); i > 0 {
				cands = s.byWildcard[name[i+1:]]
			}
		}
	} else if hello.Conn != nil {
		if a, ok := hello.Conn.LocalAddr().(*net.TCPAddr); ok {
			cands = s.byIP[string(a.IP.To16())]
		}
	}
	for _, e := range cands {
		if hello.SupportsCertificate(e.cert.Load()) == nil {
			return e
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return s.entries[0]
}

// rotateTickets replaces the session ticket keys every ticketRotation.
func (m *Manager) rotateTickets() {
	defer m.wg.Done()
	t := time.NewTicker(ticketRotation)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			if err := m.rotateTicketKeys(); err != nil {
				m.log.Warn("weft: tls: new session ticket key; keeping the current ones", "err", err)
			}
		}
	}
}

// rotateTicketKeys puts a fresh session ticket key first (it encrypts new
// tickets) and keeps at most ticketKeysKept (they all decrypt).
func (m *Manager) rotateTicketKeys() error {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return fmt.Errorf("weft: tls: session ticket key: %w", err)
	}
	m.ticketMu.Lock()
	defer m.ticketMu.Unlock()
	ring := append([][32]byte{k}, m.ticketRing...)
	if len(ring) > ticketKeysKept {
		ring = ring[:ticketKeysKept]
	}
	m.ticketRing = ring
	m.tickets.SetSessionTicketKeys(ring)
	return nil
}
