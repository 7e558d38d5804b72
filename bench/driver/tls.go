//go:build linux

package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// writeCert writes a fresh self-signed ECDSA P-256 certificate for
// 127.0.0.1 and localhost, and its key, under dir: the one pair every
// server of the HTTPS cases presents. The key file is the owner's alone
// (weft refuses a key others may read).
func writeCert(dir string) (cert, key string, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "weft bench"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return "", "", err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", err
	}
	cert, key = filepath.Join(dir, "bench-cert.pem"), filepath.Join(dir, "bench-key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return "", "", err
	}
	return cert, key, nil
}

// nginxTLS is the server-block part of nginx's configuration for the
// HTTPS cases: HTTP/2 by ALPN (nginx 1.22's "listen ... ssl http2"), TLS
// 1.2 and 1.3, session tickets and cache as nginx ships them.
func nginxTLS(cert, key string) nginxOpts {
	return nginxOpts{
		listen: "ssl http2",
		server: fmt.Sprintf("ssl_certificate %s; ssl_certificate_key %s; ssl_protocols TLSv1.2 TLSv1.3;", cert, key),
	}
}

// h2oConfig is h2o's configuration for the HTTPS cases: one thread, the
// same certificate, TLS 1.2 and 1.3 (HTTP/2 by ALPN, h2o's default over
// TLS), no access log, session resumption as h2o ships it. The h2o of
// Debian 12 is 2.2.5: its syntax.
func h2oConfig(work, root, cert, key string, port int) string {
	return fmt.Sprintf(`num-threads: 1
error-log: %[1]s/h2o-error.log
max-connections: 25000
listen:
  host: 127.0.0.1
  port: %[5]d
  ssl:
    certificate-file: %[3]s
    key-file: %[4]s
    minimum-version: TLSv1.2
    ocsp-update-interval: 0
hosts:
  default:
    paths:
      /:
        file.dir: %[2]s
`, work, root, cert, key, port)
}

func h2oVersion() string {
	out, _ := exec.Command("h2o", "--version").CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "h2o version "))
}

var (
	h2FinishedRe = regexp.MustCompile(`finished in [\d.]+m?s, ([\d.]+) req/s, ([\d.]+)([KMG]?B)/s`)
	h2RequestsRe = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2StatusRe   = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
	h2TLSRe      = regexp.MustCompile(`TLS Protocol: (\S+)\nCipher: (\S+)\nServer Temp Key: (\S+)`)
	h2ProtoRe    = regexp.MustCompile(`Application protocol: (\S+)`)
)

// parseH2load reads h2load's summary: req/s and MB/s from its "finished
// in" line, the requests that succeeded (the figure efficiency counts),
// and any failed, errored, timed-out or non-2xx requests as errors. It has
// no percentile: p99 is NaN. tls is the session's version, cipher and key
// exchange, when the connection spoke h2 (empty otherwise).
func parseH2load(s string) *result {
	r := &result{p99ms: math.NaN()}
	if m := h2FinishedRe.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
		v, _ := strconv.ParseFloat(m[2], 64)
		r.mbps = v * map[string]float64{"B": 1.0 / (1 << 20), "KB": 1.0 / 1024, "MB": 1, "GB": 1024}[m[3]]
	}
	if m := h2ProtoRe.FindStringSubmatch(s); m != nil && m[1] == "h2" {
		if t := h2TLSRe.FindStringSubmatch(s); t != nil {
			r.tls = strings.Join(t[1:], " ")
		} else {
			r.tls = "h2 without TLS"
		}
	}
	var errs []string
	if m := h2RequestsRe.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.ParseFloat(m[4], 64)
		for i, what := range []string{"failed", "errored", "timeout"} {
			if m[5+i] != "0" {
				errs = append(errs, m[5+i]+" "+what)
			}
		}
	}
	if m := h2StatusRe.FindStringSubmatch(s); m != nil {
		for i, what := range []string{"3xx", "4xx", "5xx"} {
			if m[2+i] != "0" {
				errs = append(errs, m[2+i]+" "+what)
			}
		}
	}
	if len(errs) > 0 {
		r.errors = "h2load: " + strings.Join(errs, ", ")
	}
	return r
}

// opensslConf is an OpenSSL configuration for wrk (OPENSSL_CONF) in the
// HTTPS cases: it offers TLS 1.3's suites in h2load's and Go's order,
// AES-128-GCM first, where OpenSSL's own default puts AES-256-GCM first.
// nginx and h2o pick the client's first suite, weft (Go) AES-128-GCM
// whatever the order: with this, every server runs the same cipher.
const opensslConf = `openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
`

// handshakeLoad is the load of the "https handshakes" case, run as its
// own process (driver -handshake-load URL, pinned to CPU 1 like wrk):
// conns clients, each in a loop for d: a new TCP connection, a full TLS
// handshake (no session cache: Go's client resumes nothing without one;
// X25519 only, as OpenSSL 3.0's clients and servers agree on), one GET
// with Connection: close, its whole answer, and the close. wrk cannot be
// this load: it keeps its TLS session across reconnections and resumes
// it. It prints its figures as wrk does, for parseWrk.
func handshakeLoad(target string, conns int, d time.Duration) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	conf := &tls.Config{
		InsecureSkipVerify: true, // the bench's own certificate; the handshake still checks its signature
		CurvePreferences:   []tls.CurveID{tls.X25519},
		NextProtos:         []string{"http/1.1"},
		ServerName:         u.Hostname(),
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n")
	type tally struct {
		lat                       []time.Duration
		connect, read, write, bad int
	}
	start := time.Now()
	end := start.Add(d)
	tallies := make([]tally, conns)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Add(1)
		go func(t *tally) {
			defer wg.Done()
			dialer := &net.Dialer{Timeout: 5 * time.Second}
			for t0 := time.Now(); t0.Before(end); t0 = time.Now() {
				c, err := tls.DialWithDialer(dialer, "tcp", u.Host, conf)
				if err != nil {
					t.connect++
					continue
				}
				c.SetDeadline(t0.Add(5 * time.Second))
				if _, err := c.Write(req); err != nil {
					t.write++
					c.Close()
					continue
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
				}
				c.Close()
				switch {
				case err != nil:
					t.read++
				case resp.StatusCode != http.StatusOK:
					t.bad++
				default:
					t.lat = append(t.lat, time.Since(t0))
				}
			}
		}(&tallies[i])
	}
	wg.Wait()
	wall := time.Since(start)
	var all []time.Duration
	var sum tally
	for _, t := range tallies {
		all = append(all, t.lat...)
		sum.connect += t.connect
		sum.read += t.read
		sum.write += t.write
		sum.bad += t.bad
	}
	fmt.Printf("  %d requests in %.2fs (a full handshake each)\n", len(all), wall.Seconds())
	if len(all) > 0 {
		slices.Sort(all)
		fmt.Printf("     99%%    %.2fms\n", float64(all[len(all)*99/100])/float64(time.Millisecond))
	}
	if sum.connect+sum.read+sum.write > 0 {
		fmt.Printf("  Socket errors: connect %d, read %d, write %d, timeout 0\n", sum.connect, sum.read, sum.write)
	}
	if sum.bad > 0 {
		fmt.Printf("  Non-2xx or 3xx responses: %d\n", sum.bad)
	}
	fmt.Printf("Requests/sec: %.2f\n", float64(len(all))/wall.Seconds())
	return nil
}
