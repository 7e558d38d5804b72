//go:build linux

package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const h2loadOut = `starting benchmark...
spawning thread #0: 64 total client(s). Timing-based test with 0s of warm-up time and 4s of main duration for measurements.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is started.
Main benchmark duration is over.

finished in 4.00s, 33576.50 req/s, 36.13MB/s
requests: 134306 total, 135330 started, 134306 done, 134300 succeeded, 6 failed, 0 errored, 0 timeout
status codes: 134300 2xx, 0 3xx, 6 4xx, 0 5xx
`

func TestParseH2load(t *testing.T) {
	r := parseH2load(h2loadOut)
	if r.rps != 33576.5 || r.requests != 134300 || math.Abs(r.mbps-36.13) > 1e-9 || !math.IsNaN(r.p99ms) {
		t.Errorf("rps %v, requests %v, MB/s %v, p99 %v", r.rps, r.requests, r.mbps, r.p99ms)
	}
	if r.tls != "TLSv1.3 TLS_AES_128_GCM_SHA256 X25519" {
		t.Errorf("tls %q", r.tls)
	}
	if r.errors != "h2load: 6 failed, 6 4xx" {
		t.Errorf("errors %q", r.errors)
	}
	h1 := parseH2load(strings.Replace(h2loadOut, "Application protocol: h2", "Application protocol: http/1.1", 1))
	if h1.tls != "" {
		t.Errorf("an http/1.1 run has tls %q, want none (not HTTP/2)", h1.tls)
	}
}

func TestWriteCert(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := writeCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key %s: %v, mode %v", key, err, fi.Mode())
	}
	if filepath.Dir(cert) != dir {
		t.Errorf("cert at %s", cert)
	}
	c := h2oConfig("/w", "/root", cert, key, 8443)
	for _, want := range []string{"num-threads: 1", "port: 8443", "certificate-file: " + cert, "file.dir: /root"} {
		if !strings.Contains(c, want) {
			t.Errorf("h2o config lacks %q:\n%s", want, c)
		}
	}
	n := nginxConfig("/w", nginxTLS(cert, key))
	if !strings.Contains(n, "listen 127.0.0.1:PORT ssl http2 deferred;") || !strings.Contains(n, "ssl_certificate "+cert+";") {
		t.Errorf("nginx config:\n%s", n)
	}
}
