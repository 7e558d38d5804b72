package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/h2"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/httpadapt"
	"github.com/weft-server/weft/internal/tlsx"
)

// TLSConfig is what `weft serve` is told about HTTPS, HTTP/2 and HTTP/3.
type TLSConfig struct {
	Pairs                 []tlsx.Pair
	AllowInsecureKeyPerms bool
	SelfSigned            bool

	ACMEDomains []string
	ACMEEmail   string
	ACMECA      string
	ACMEStaging bool
	ACMERoots   *x509.CertPool // roots to trust for the ACME CA's own HTTPS (tests: pebble's); nil for the system's

	H2C          bool         // cleartext HTTP/2 (prior knowledge) on a plain listener
	HTTP3        bool         // HTTP/3 on the same port, UDP
	RedirectHTTP string       // a plain listener redirecting to HTTPS ("" for none)
	redirectLn   net.Listener // the redirecting listener systemd passed (see takePassed), or nil
}

// On reports whether the server speaks TLS.
func (t *TLSConfig) On() bool { return len(t.Pairs) > 0 || t.SelfSigned || len(t.ACMEDomains) > 0 }

// fronted reports whether connections go through a Front (TLS or h2c)
// rather than straight to an engine.
func (t *TLSConfig) fronted() bool { return t.On() || t.H2C }

func tlsFromConfig(c *config.Config) TLSConfig {
	t := TLSConfig{
		AllowInsecureKeyPerms: c.TLSAllowInsecureKeyPerms,
		SelfSigned:            c.TLSSelfSigned,
		ACMEDomains:           c.ACMEDomain, ACMEEmail: c.ACMEEmail, ACMECA: c.ACMECA, ACMEStaging: c.ACMEStaging,
		H2C: c.H2C, HTTP3: c.HTTP3, RedirectHTTP: c.RedirectHTTP,
	}
	for i := range c.TLSCert {
		if i < len(c.TLSKey) {
			t.Pairs = append(t.Pairs, tlsx.Pair{Cert: c.TLSCert[i], Key: c.TLSKey[i]})
		}
	}
	return t
}

// check refuses combinations that cannot work, before anything starts.
func (t *TLSConfig) check(engName string) error {
	if t.fronted() && engName != "goroutine" {
		what := "TLS"
		if !t.On() {
			what = "h2c"
		}
		return fmt.Errorf("weft: engine %s cannot serve %s: it writes to the socket itself, and Go's TLS (no kernel TLS) and HTTP/2 live on a net.Conn; use --engine goroutine or auto", engName, what)
	}
	if !t.On() {
		switch {
		case t.HTTP3:
			return errors.New("weft: --http3 needs TLS (--tls-cert/--tls-key, --tls-self-signed or --acme-domain)")
		case t.RedirectHTTP != "" || t.redirectLn != nil:
			return errors.New("weft: --redirect-http needs TLS (--tls-cert/--tls-key, --tls-self-signed or --acme-domain)")
		}
	}
	return nil
}

// secure is the running HTTPS side: certificates, the front that sorts
// connections, the HTTP/2 and HTTP/3 servers, the redirecting listener.
type secure struct {
	log     *slog.Logger
	certs   *tlsx.Manager // nil without TLS
	acme    *tlsx.ACME    // nil without ACME
	front   *httpadapt.Front
	h2      *h2.Server
	h3      *http3.Server
	udp     net.PacketConn
	redir   *http.Server
	redirLn net.Listener
	wg      sync.WaitGroup
	grace   time.Duration
	cancel  context.CancelFunc
	altSvc  string // the Alt-Svc value advertising HTTP/3, or ""
}

// protocols names, for the banner, what is served beside HTTP/1.1.
func (t *TLSConfig) protocols() string {
	var p []string
	if t.On() || t.H2C {
		p = append(p, "HTTP/2")
	}
	if t.HTTP3 {
		p = append(p, "HTTP/3")
	}
	if len(p) == 0 {
		return ""
	}
	return "; HTTP/1.1, " + strings.Join(p, ", ")
}

// startSecure opens what t asks for in front of ln and returns the
// listener the HTTP/1.1 engine serves (its connections TLS or peeked
// cleartext ones). handler is the site; ecfg the engine's limits.
func startSecure(ctx context.Context, t *TLSConfig, ln net.Listener, handler http1.Handler, ecfg *engine.Config, log *slog.Logger) (*secure, net.Listener, error) {
	s := &secure{log: log, grace: ecfg.ShutdownTimeout}
	ctx, s.cancel = context.WithCancel(ctx)
	fail := func(err error) (*secure, net.Listener, error) {
		s.stop()
		return nil, nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var tconf *tls.Config
	if t.On() {
		var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
		next := []string{"h2", "http/1.1"}
		if len(t.ACMEDomains) > 0 {
			a, err := tlsx.NewACME(ctx, tlsx.ACMEOptions{
				Domains: t.ACMEDomains, Email: t.ACMEEmail, CA: t.ACMECA, Staging: t.ACMEStaging,
				Logger: log, TLSALPNPort: port, HTTPPort: t.redirectPort(), TrustedRoots: t.ACMERoots,
				DisableHTTPChallenge: t.RedirectHTTP == "" && t.redirectLn == nil,
			})
			if err != nil {
				return fail(err)
			}
			s.acme = a
			getCert = a.GetCertificate
			next = append(next, a.NextProtos()...)
		}
		m, err := tlsx.New(tlsx.Options{
			Pairs: t.Pairs, AllowInsecureKeyPerms: t.AllowInsecureKeyPerms,
			SelfSigned: t.SelfSigned, NextProtos: next, GetCertificate: getCert, Logger: log,
		})
		if err != nil && !(errors.Is(err, tlsx.ErrNoCertificates) && s.acme != nil) {
			return fail(err)
		}
		if m != nil {
			s.certs = m
			tconf = m.TLSConfig()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); m.Watch(ctx) }()
		} else {
			// ACME alone: its certificates, once obtained.
			tconf = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: next, GetCertificate: getCert}
		}
	}
	altSvc := ""
	if t.HTTP3 {
		altSvc = `h3=":` + strconv.Itoa(port) + `"; ma=86400`
	}
	s.altSvc = altSvc
	h2handler := httpadapt.New(handler, httpadapt.Options{Log: logOf(ecfg), MaxBodyBytes: ecfg.MaxBodyBytes, AltSvc: altSvc, Limits: ecfg.Limits})
	// HTTP/2 is weft's own server (internal/h2): it answers from the
	// site's memory on the connection's goroutine.
	s.h2 = &h2.Server{
		Handler: handler, Log: logOf(ecfg), MaxBodyBytes: ecfg.MaxBodyBytes, AltSvc: altSvc,
		HeadLimits: ecfg.Limits, Limits: h2.Limits{IdleTimeout: ecfg.IdleTimeout, WriteByteTimeout: ecfg.WriteTimeout},
		PrefaceTimeout: ecfg.ReadHeaderTimeout, ErrorLog: log,
	}
	fopt := httpadapt.FrontOptions{
		TLS: tconf, H2C: t.H2C && !t.On(), HandshakeTimeout: ecfg.ReadHeaderTimeout, MaxPending: ecfg.MaxConns, Log: log,
		HeadLimits: ecfg.Limits,
	}
	if fopt.H2C {
		fopt.Upgrade = s.h2.Upgrade // h2c by Upgrade: cleartext only (RFC 9113 §3.1)
	}
	s.front = httpadapt.NewFront(ln, fopt)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.front.Run(ctx) }()
	go func() { defer s.wg.Done(); s.h2.Serve(s.front.H2()) }()

	if t.HTTP3 {
		udp, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil {
			return fail(fmt.Errorf("weft: --http3: cannot listen on udp %s: %w", ln.Addr(), unwrapSyscall(err)))
		}
		s.udp = udp
		h3conf := tconf.Clone()
		h3conf.NextProtos = nil
		s.h3 = &http3.Server{
			Handler:    h2handler,
			TLSConfig:  http3.ConfigureTLSConfig(h3conf),
			QUICConfig: &quic.Config{MaxIdleTimeout: ecfg.IdleTimeout, Allow0RTT: false},
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.h3.Serve(udp) }()
	}
	if t.RedirectHTTP != "" || t.redirectLn != nil {
		rl := t.redirectLn
		if rl == nil {
			var err error
			if rl, err = Listen(t.RedirectHTTP); err != nil {
				return fail(err)
			}
		}
		s.redirLn = rl
		s.redir = &http.Server{
			Handler:           redirector(port, s.acme),
			ReadHeaderTimeout: ecfg.ReadHeaderTimeout,
			IdleTimeout:       ecfg.IdleTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.redir.Serve(rl) }()
	}
	return s, s.front.H1(), nil
}

// logOf is the access log of ecfg as the adapter takes it.
// With metrics on, it also counts each request (see meterSink).
func logOf(ecfg *engine.Config) httpadapt.RecordSink {
	switch {
	case ecfg.Meters != nil && ecfg.Log != nil:
		return teeSink{ecfg.Log, meterSink{ecfg.Meters}}
	case ecfg.Meters != nil:
		return meterSink{ecfg.Meters}
	case ecfg.Log != nil:
		return ecfg.Log
	}
	return nil
}

// redirectPort is the port of the redirecting listener, or 0.
func (t *TLSConfig) redirectPort() int {
	if t.redirectLn != nil {
		if ta, ok := t.redirectLn.Addr().(*net.TCPAddr); ok {
			return ta.Port
		}
	}
	addr := t.RedirectHTTP
	if addr == "" {
		return 0
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// redirector answers every request on the plain listener with a 308 to
// the same path and query over HTTPS on port, but ACME's HTTP-01
// challenges, which it answers.
func redirector(port int, acme *tlsx.ACME) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if acme != nil && acme.HandleHTTPChallenge(w, r) {
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		} else if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
			host = host[1 : len(host)-1] // an IPv6 literal without a port
		}
		if host == "" || strings.ContainsAny(host, "/\\@?#[]") {
			http.Error(w, "400 Bad Request: no valid Host to redirect to", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			if a, err := netip.ParseAddr(host); err != nil || a.Zone() != "" {
				http.Error(w, "400 Bad Request: no valid Host to redirect to", http.StatusBadRequest)
				return
			}
			host = "[" + host + "]"
		}
		if port != 443 {
			host += ":" + strconv.Itoa(port)
		}
		target := r.RequestURI // as sent, in origin form
		if !strings.HasPrefix(target, "/") {
			target = r.URL.RequestURI() // the path and query of an absolute form
		}
		if !strings.HasPrefix(target, "/") {
			target = "/"
		}
		w.Header().Set("Location", "https://"+host+target)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusPermanentRedirect)
		fmt.Fprintf(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>308 Permanent Redirect</title></head>\n<body><h1>308 Permanent Redirect</h1><hr><p>weft</p></body></html>\n")
	})
}

// reloadCerts re-reads the certificate files (SIGHUP).
func (s *secure) reloadCerts() error {
	if s == nil || s.certs == nil {
		return nil
	}
	return s.certs.Reload()
}

// caPath is the development CA's file, when self-signed.
func (s *secure) caPath() string {
	if s == nil || s.certs == nil {
		return ""
	}
	return s.certs.CAPath()
}

// stop ends the HTTPS side once the engine has returned: HTTP/2 and
// HTTP/3 connections get a GOAWAY and the shutdown grace to finish.
func (s *secure) stop() {
	if s == nil {
		return
	}
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	if s.h2 != nil {
		if s.h2.Shutdown(ctx) != nil {
			s.h2.Close()
		}
	}
	if s.h3 != nil {
		if s.h3.Shutdown(ctx) != nil {
			s.h3.Close()
		}
	}
	if s.udp != nil {
		s.udp.Close()
	}
	if s.redir != nil {
		if s.redir.Shutdown(ctx) != nil {
			s.redir.Close()
		}
	}
	if s.acme != nil {
		s.acme.Stop()
	}
	if s.certs != nil {
		s.certs.Close()
	}
	s.wg.Wait()
}
