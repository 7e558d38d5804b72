package server_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// TestACMEThroughServer: weft started with --acme-domain against a real
// ACME server (pebble, whose validation connects to weft's own ports)
// obtains a certificate and serves the site with it: over TLS-ALPN-01 on
// its HTTPS port alone, and with --redirect-http, where HTTP-01 may be
// answered on the plain port. Until then the name's handshakes fail and
// the server is up.
func TestACMEThroughServer(t *testing.T) {
	for _, redirect := range []bool{false, true} {
		t.Run("redirect="+strconv.FormatBool(redirect), func(t *testing.T) {
			t.Setenv("XDG_DATA_HOME", t.TempDir()) // certmagic's storage
			httpsPort, httpPort := conformance.FreePort(t), conformance.FreePort(t)
			peb := conformance.StartPebble(t, conformance.PebbleConfig{HTTPPort: httpPort, TLSPort: httpsPort})
			const domain = "weft-acme.example"
			tc := server.TLSConfig{ACMEDomains: []string{domain}, ACMECA: peb.Directory, ACMERoots: peb.APIRoots}
			if redirect {
				tc.RedirectHTTP = "127.0.0.1:" + strconv.Itoa(httpPort)
			}
			w := startWeft(t, server.Config{
				Addr: "127.0.0.1:" + strconv.Itoa(httpsPort),
				Site: site.Config{Root: conformance.Tree(t)},
				TLS:  tc,
			})
			conf := &tls.Config{ServerName: domain, RootCAs: peb.Issuer, NextProtos: []string{"http/1.1"}}
			var c *tls.Conn
			var err error
			deadline := time.Now().Add(45 * time.Second)
			for {
				c, err = tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", w.addr, conf)
				if err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("no certificate for %s served within 45 s: %v", domain, err)
			}
			defer c.Close()
			leaf := c.ConnectionState().PeerCertificates[0]
			if leaf.VerifyHostname(domain) != nil {
				t.Fatalf("served leaf names %v, not %s", leaf.DNSNames, domain)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: "+domain+"\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "hello, world\n" {
				t.Fatalf("GET /hello.txt over the ACME certificate: %d %q", resp.StatusCode, body)
			}
		})
	}
}
