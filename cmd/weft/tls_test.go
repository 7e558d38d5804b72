package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
)

// homeEnv is the environment with HOME and XDG_CONFIG_HOME in a fresh
// folder, where --tls-self-signed keeps its development CA.
func homeEnv(t *testing.T) ([]string, string) {
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	return env, home
}

// TestTLSUsageErrors: impossible HTTPS settings fail before serving,
// with a message that says what to do.
func TestTLSUsageErrors(t *testing.T) {
	bin := weftBin(t)
	certs := conformance.NewCerts(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msgs []string
	}{
		{"EpollTLS", []string{"--engine", "epoll", "--tls-self-signed"}, 1, []string{"engine epoll cannot serve TLS", "--engine goroutine"}},
		{"EpollH2C", []string{"--engine", "epoll", "--h2c"}, 1, []string{"engine epoll cannot serve h2c", "--engine goroutine"}},
		{"HTTP3WithoutTLS", []string{"--http3"}, 1, []string{"--http3 needs TLS"}},
		{"RedirectWithoutTLS", []string{"--redirect-http", "127.0.0.1:0"}, 1, []string{"--redirect-http needs TLS"}},
		{"CertWithoutKey", []string{"--tls-cert", certs.CertFile}, 2, []string{"--tls-cert", "1 certificates but 0 keys", "pairs"}},
		{"KeyWithoutCert", []string{"--tls-key", certs.KeyFile}, 2, []string{"--tls-key", "0 certificates but 1 keys", "pairs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, home := homeEnv(t)
			cmd := exec.Command(bin, append([]string{"serve", "-p", "0"}, tc.args...)...)
			cmd.Env = env
			out, err := runBounded(t, cmd)
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit %d (%v), want %d; output %s", code, err, tc.code, out)
			}
			for _, m := range tc.msgs {
				if !strings.Contains(out, m) {
					t.Errorf("output %q lacks %q", out, m)
				}
			}
			if strings.Contains(out, "panic:") {
				t.Errorf("stack trace: %s", out)
			}
			// Nothing was made on the way to the refusal.
			if ents, _ := os.ReadDir(home); len(ents) != 0 {
				t.Errorf("HOME has %d entries after a refused start", len(ents))
			}
		})
	}
}

// runBounded runs cmd to its end, within 10s, and returns its output.
func runBounded(t *testing.T, cmd *exec.Cmd) (string, error) {
	t.Helper()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running after 10s; output %s", out.String())
		return "", nil
	}
}

var httpsRe = regexp.MustCompile(`https://[^ ]+/`)

// startServing starts the binary and reads standard output up to the
// banner, which it returns with the lines before it.
func startServing(t *testing.T, env []string, args ...string) (banner string, before []string) {
	t.Helper()
	cmd := exec.Command(weftBin(t), append([]string{"serve", "-p", "0", "--no-access-log"}, args...)...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		br := bufio.NewReader(stdout)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			lines <- l
		}
	}()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("exited before the banner; stderr %s", stderr.String())
			}
			if strings.HasPrefix(l, "weft: serving ") {
				go io.Copy(io.Discard, stdout)
				return l, before
			}
			before = append(before, l)
		case <-timeout:
			t.Fatalf("no banner within 15s; stderr %s", stderr.String())
		}
	}
}

// getHTTPS fetches url trusting pool, over HTTP/2.
func getHTTPS(t *testing.T, url string, pool *x509.CertPool) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || len(body) == 0 {
		t.Fatalf("GET %s: %s %d, %d bytes", url, resp.Proto, resp.StatusCode, len(body))
	}
}

// TestSelfSignedBanner: --tls-self-signed creates the development CA in
// the user's config folder, says where, announces an https:// address,
// and serves a certificate that CA signed.
func TestSelfSignedBanner(t *testing.T) {
	env, home := homeEnv(t)
	banner, before := startServing(t, env, "--tls-self-signed", "--http3")
	url := httpsRe.FindString(banner)
	if url == "" || !strings.Contains(banner, "HTTP/2, HTTP/3") {
		t.Fatalf("banner %q: want an https:// address and HTTP/2, HTTP/3", banner)
	}
	ca := filepath.Join(home, "config", "weft", "dev-ca", "ca.pem")
	if len(before) != 1 || !strings.Contains(before[0], "local CA "+ca+" ") {
		t.Fatalf("lines before the banner %q: want one naming the CA %s", before, ca)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", ca)
	}
	getHTTPS(t, url, pool)
}

// TestKeyPermissions: a private key others may read is refused, the
// message naming the flag that allows it; with the flag it is served.
func TestKeyPermissions(t *testing.T) {
	certs := conformance.NewCerts(t)
	if err := os.Chmod(certs.KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	env, _ := homeEnv(t)
	args := []string{"--tls-cert", certs.CertFile, "--tls-key", certs.KeyFile}
	cmd := exec.Command(weftBin(t), append([]string{"serve", "-p", "0"}, args...)...)
	cmd.Env = env
	out, _ := runBounded(t, cmd)
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1; output %s", code, out)
	}
	for _, m := range []string{certs.KeyFile, "0644", "--tls-allow-insecure-key-perms"} {
		if !strings.Contains(out, m) {
			t.Errorf("output %q lacks %q", out, m)
		}
	}
	banner, _ := startServing(t, env, append(args, "--tls-allow-insecure-key-perms")...)
	url := httpsRe.FindString(banner)
	if url == "" {
		t.Fatalf("banner %q has no https:// address", banner)
	}
	getHTTPS(t, url, certs.Pool)
}
