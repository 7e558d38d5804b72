package tlsx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ErrACMEOptions is wrapped by every error NewACME returns for options it
// refuses, so callers can tell a configuration mistake from a failure to start.
var ErrACMEOptions = errors.New("weft: invalid ACME options")

// ErrACMEPending is wrapped by the error GetCertificate returns for a managed
// name whose certificate has not been obtained yet (or could not be): the
// handshake fails with an alert instead of presenting some other certificate.
var ErrACMEPending = errors.New("weft: ACME certificate not obtained yet")

// alpnACMETLS1 is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
const alpnACMETLS1 = "acme-tls/1"

// ACMEOptions configures NewACME. Only Domains is required.
type ACMEOptions struct {
	// Domains are the DNS names to obtain certificates for, one certificate
	// per name. At least one is required. Names are compared without regard
	// to case or a trailing dot. Wildcards need the DNS-01 challenge and IP
	// addresses are not supported, so both are refused.
	Domains []string

	// Email is given to the CA with the account (expiry notices, contact).
	// Optional.
	Email string

	// CA is the ACME directory URL (https). "" means Let's Encrypt's
	// production directory, or its staging directory when Staging is set.
	// Using a CA means agreeing to its subscriber agreement.
	CA string

	// Staging selects Let's Encrypt's staging directory when CA is "".
	Staging bool

	// Storage is the directory that keeps the account, keys and
	// certificates across restarts. "" means DefaultACMEStorage().
	Storage string

	// TrustedRoots, if not nil, are the only roots trusted when talking to
	// the ACME server (a private CA, or a test server).
	TrustedRoots *x509.CertPool

	// HTTPPort and TLSALPNPort are the ports the CA's validation connects
	// to for HTTP-01 and TLS-ALPN-01; 0 means 80 and 443. The server is
	// expected to listen there itself (HandleHTTPChallenge, GetCertificate
	// and NextProtos); only when nothing listens on ListenHost:port does
	// certmagic open a challenge listener of its own for the duration of
	// the challenge.
	HTTPPort, TLSALPNPort int

	// ListenHost is the host certmagic's own challenge listeners bind to,
	// if it needs them ("" means all addresses).
	ListenHost string

	// DisableHTTPChallenge and DisableTLSALPNChallenge turn the two
	// challenges off; turning both off is refused.
	DisableHTTPChallenge, DisableTLSALPNChallenge bool

	// Logger receives certmagic's and the ACME client's logs. nil means
	// slog.Default(): failures to obtain or renew are only ever logged, so
	// they should go somewhere.
	Logger *slog.Logger

	// RenewalWindowRatio is the part of a certificate's lifetime, counted
	// back from its expiry, in which it is renewed: 1.0/3 renews a 90-day
	// certificate 30 days before it expires. 0 means certmagic's default
	// (1/3). It must be below 1. Hints from the CA (ACME Renewal
	// Information) can make renewal start earlier.
	RenewalWindowRatio float64

	// renewCheckInterval is how often certificates are checked for
	// renewal; 0 means certmagic's default (10 minutes). Tests only: they
	// renew certificates that live for a minute.
	renewCheckInterval time.Duration
}

// ACME obtains and renews certificates for a fixed set of names from an ACME
// CA (certmagic underneath) and answers the CA's HTTP-01 and TLS-ALPN-01
// challenges through the server's own listeners. Its methods are safe for
// concurrent use.
type ACME struct {
	cfg     *certmagic.Config
	issuer  *certmagic.ACMEIssuer
	cache   *certmagic.Cache
	domains map[string]struct{}
	httpOn  bool
	alpnOn  bool

	cancel   context.CancelFunc
	stopOnce sync.Once
}

// NewACME checks o, then starts managing the certificates in the background
// and returns at once: certificates already in Storage are served as soon as
// they are loaded, missing or expiring ones are obtained or renewed, retried
// with backoff after a failure, and renewed before they expire for as long as
// the ACME runs. Until a name has a certificate, handshakes for it fail (see
// GetCertificate). Management ends when ctx is done or Stop is called.
func NewACME(ctx context.Context, o ACMEOptions) (*ACME, error) {
	domains, err := checkACMEOptions(&o)
	if err != nil {
		return nil, err
	}
	if o.Storage == "" {
		if o.Storage, err = DefaultACMEStorage(); err != nil {
			return nil, fmt.Errorf("%w: no Storage given and %w", ErrACMEOptions, err)
		}
	}
	// Fail now, not in the background, on a storage directory that cannot be made.
	if err := os.MkdirAll(o.Storage, 0o700); err != nil {
		return nil, fmt.Errorf("weft: ACME storage: %w", err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	zl := newZapLogger(logger.With("component", "acme"))

	// The cache asks for the Config of each certificate it renews; there is
	// only one, set right after the cache exists.
	var cfgp atomic.Pointer[certmagic.Config]
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) {
			return cfgp.Load(), nil
		},
		RenewCheckInterval: o.renewCheckInterval,
		Logger:             zl,
	})
	cfg := certmagic.New(cache, certmagic.Config{
		RenewalWindowRatio: o.RenewalWindowRatio,
		Storage:            &certmagic.FileStorage{Path: o.Storage},
		Logger:             zl,
	})
	ca := o.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
		if o.Staging {
			ca = certmagic.LetsEncryptStagingCA
		}
	}
	// With Let's Encrypt's production CA, certmagic retries failed
	// validations against staging first (TestCA) to spare the production
	// rate limits; any other CA is used as it is.
	issuer := certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{
		CA:                      ca,
		Email:                   o.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    o.DisableHTTPChallenge,
		DisableTLSALPNChallenge: o.DisableTLSALPNChallenge,
		ListenHost:              o.ListenHost,
		AltHTTPPort:             o.HTTPPort,
		AltTLSALPNPort:          o.TLSALPNPort,
		TrustedRoots:            o.TrustedRoots,
		Logger:                  zl,
	})
	cfg.Issuers = []certmagic.Issuer{issuer}
	cfgp.Store(cfg)

	mctx, cancel := context.WithCancel(ctx)
	a := &ACME{
		cfg:     cfg,
		issuer:  issuer,
		cache:   cache,
		domains: make(map[string]struct{}, len(domains)),
		httpOn:  !o.DisableHTTPChallenge,
		alpnOn:  !o.DisableTLSALPNChallenge,
		cancel:  cancel,
	}
	for _, d := range domains {
		a.domains[d] = struct{}{}
	}
	if err := cfg.ManageAsync(mctx, domains); err != nil {
		a.Stop()
		return nil, fmt.Errorf("weft: ACME: %w", err)
	}
	context.AfterFunc(mctx, a.Stop)
	return a, nil
}

// GetCertificate is meant for tls.Config.GetCertificate, in front of the
// server's other certificates. It answers:
//   - a TLS-ALPN-01 validation (ALPN offering only "acme-tls/1") with the
//     challenge certificate when the name is one of ours and the challenge
//     is on, and with an error otherwise: no other certificate can answer
//     it;
//   - a managed name with its certificate, or with an error wrapping
//     ErrACMEPending while it has none (the client gets an alert);
//   - (nil, nil) for any other name, or no name, so the caller can fall
//     back to its other certificates.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalizeName(hello.ServerName)
	_, ours := a.domains[name]
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == alpnACMETLS1 {
		switch {
		case !ours:
			return nil, fmt.Errorf("weft: TLS-ALPN-01 challenge for %q, a name this server does not manage", hello.ServerName)
		case !a.alpnOn:
			return nil, fmt.Errorf("weft: TLS-ALPN-01 challenge for %q, but that challenge is disabled", hello.ServerName)
		}
		return a.cfg.GetCertificate(hello)
	}
	if !ours {
		return nil, nil
	}
	cert, err := a.cfg.GetCertificate(hello)
	if err != nil || cert == nil || len(cert.Certificate) == 0 {
		return nil, fmt.Errorf("%w for %q", ErrACMEPending, name)
	}
	return cert, nil
}

// NextProtos returns the ALPN protocols to add to the TLS listener's list:
// "acme-tls/1" when the TLS-ALPN-01 challenge is on, else none. A
// connection that negotiates it only ever completes the handshake: the
// server should close it rather than serve HTTP on it.
func (a *ACME) NextProtos() []string {
	if !a.alpnOn {
		return nil
	}
	return []string{alpnACMETLS1}
}

// HandleHTTPChallenge answers the CA's HTTP-01 request for one of our names
// (GET /.well-known/acme-challenge/TOKEN) and reports whether it did; when
// it returns false it has written nothing and the request is the caller's.
func (a *ACME) HandleHTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	if !a.httpOn || !strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if _, ours := a.domains[normalizeName(host)]; !ours {
		return false
	}
	return a.issuer.HandleHTTPChallenge(w, r)
}

// Stop ends certificate management: an obtain or renewal under way is
// cancelled and ends shortly after, and no renewal is started any more.
// Certificates already obtained are still served. Stop may be called more
// than once.
func (a *ACME) Stop() {
	a.stopOnce.Do(func() {
		a.cancel()
		a.cache.Stop()
	})
}

// DefaultACMEStorage returns the directory ACME keeps its state in when
// ACMEOptions.Storage is "": "weft/acme" under $XDG_DATA_HOME if that is set
// to an absolute path, else under ~/.local/share on Unix, and under the
// per-user configuration directory (os.UserConfigDir) on Windows, macOS and
// Plan 9.
func DefaultACMEStorage() (string, error) {
	if runtime.GOOS != "windows" {
		if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
			return filepath.Join(d, "weft", "acme"), nil
		}
	}
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9":
		d, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "weft", "acme"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "weft", "acme"), nil
}

// checkACMEOptions refuses options that cannot work and returns the
// normalized, deduplicated domain names.
func checkACMEOptions(o *ACMEOptions) ([]string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrACMEOptions, fmt.Sprintf(format, args...))
	}
	if len(o.Domains) == 0 {
		return nil, bad("no domains: at least one name is needed")
	}
	public := o.CA == ""
	var domains []string
	for _, d := range o.Domains {
		n := normalizeName(d)
		if err := checkDomain(n, public); err != nil {
			return nil, bad("domain %q: %s", d, err)
		}
		if !slices.Contains(domains, n) {
			domains = append(domains, n)
		}
	}
	if o.CA != "" {
		u, err := url.Parse(o.CA)
		switch {
		case err != nil:
			return nil, bad("CA %q is not a URL: %s", o.CA, err)
		case u.Scheme != "https":
			return nil, bad("CA %q: an ACME directory URL must be https://", o.CA)
		case u.Host == "":
			return nil, bad("CA %q has no host", o.CA)
		}
	}
	if o.Email != "" {
		if a, err := mail.ParseAddress(o.Email); err != nil || a.Address != o.Email {
			return nil, bad("email %q is not a plain address like admin@example.com", o.Email)
		}
	}
	if o.DisableHTTPChallenge && o.DisableTLSALPNChallenge {
		return nil, bad("both challenges are disabled: the CA could not validate any name")
	}
	for _, p := range []struct {
		name string
		port int
	}{{"HTTPPort", o.HTTPPort}, {"TLSALPNPort", o.TLSALPNPort}} {
		if p.port < 0 || p.port > 65535 {
			return nil, bad("%s %d is not a port", p.name, p.port)
		}
	}
	if r := o.RenewalWindowRatio; !(r >= 0 && r < 1) { // NaN too
		return nil, bad("RenewalWindowRatio %v is not in [0, 1)", r)
	}
	if o.renewCheckInterval < 0 {
		return nil, bad("negative renewal check interval")
	}
	return domains, nil
}

// checkDomain says why n (normalized) cannot be a name to obtain a
// certificate for with HTTP-01 or TLS-ALPN-01. Names that only a private CA
// could validate (localhost, .internal, ...) are refused for Let's Encrypt.
func checkDomain(n string, public bool) error {
	switch {
	case n == "":
		return errors.New("empty name")
	case strings.Contains(n, "*"):
		return errors.New("wildcard names need the DNS-01 challenge, which weft does not do")
	case net.ParseIP(strings.Trim(n, "[]")) != nil:
		return errors.New("IP addresses are not supported, only DNS names")
	case len(n) > 253:
		return errors.New("longer than 253 characters")
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("each dot-separated label must have 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("a label cannot start or end with '-'")
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				if c >= 0x80 {
					return errors.New("not ASCII: give an internationalized name in its xn-- (punycode) form")
				}
				return fmt.Errorf("character %q is not allowed in a DNS name", c)
			}
		}
	}
	if public && (!strings.Contains(n, ".") || certmagic.SubjectIsInternal(n)) {
		return errors.New("not a public name: Let's Encrypt cannot validate it (set CA to a private ACME CA)")
	}
	return nil
}

// normalizeName lowercases a host name and drops a trailing dot.
func normalizeName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

// newZapLogger returns a zap logger (what certmagic logs to) that hands
// every entry to l's handler.
func newZapLogger(l *slog.Logger) *zap.Logger {
	return zap.New(slogCore{h: l.Handler()})
}

// slogCore is a zapcore.Core writing to a slog.Handler.
type slogCore struct{ h slog.Handler }

var _ zapcore.Core = slogCore{}

func (c slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c slogCore) With(fields []zapcore.Field) zapcore.Core {
	return slogCore{h: c.h.WithAttrs(slogAttrs(fields))}
}

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(slogAttrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (slogCore) Sync() error { return nil }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// slogAttrs turns zap fields into slog attributes, in a stable order.
func slogAttrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}
