package conformance

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The pebble test ACME server and its DNS companion, installed by .ci/run
// with `go install github.com/letsencrypt/pebble/v2/cmd/...@v2.10.3`.
const (
	pebbleBin       = "pebble"
	challTestSrvBin = "pebble-challtestsrv"
)

// findPebble returns the paths of pebble and pebble-challtestsrv, looked up
// in PATH and then in GOPATH/bin. Without them the test is skipped, or fails
// when WEFT_TEST_REQUIRE_PEBBLE=1 (as in CI).
func findPebble(t testing.TB) (pebble, challtestsrv string) {
	t.Helper()
	pebble, challtestsrv = findTool(pebbleBin), findTool(challTestSrvBin)
	if pebble != "" && challtestsrv != "" {
		return pebble, challtestsrv
	}
	msg := "pebble and pebble-challtestsrv are needed (go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3 " +
		"github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.3)"
	if os.Getenv("WEFT_TEST_REQUIRE_PEBBLE") == "1" {
		t.Fatal(msg + "; WEFT_TEST_REQUIRE_PEBBLE=1 makes their absence a failure")
	}
	t.Skip(msg + "; skipping (set WEFT_TEST_REQUIRE_PEBBLE=1 to fail instead)")
	return "", ""
}

// findTool returns the path of the program name, looked up in PATH and
// then in GOPATH/bin (where go install puts it), or "".
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range filepath.SplitList(build.Default.GOPATH) {
		p := filepath.Join(dir, "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// PebbleConfig is what a test chooses of pebble's configuration.
type PebbleConfig struct {
	HTTPPort, TLSPort int    // where pebble's validation connects (on 127.0.0.1, via challtestsrv's DNS)
	Validity          uint64 // seconds; 0 = pebble's default (90 days)
}

// Pebble is a running pebble with the roots a client needs.
type Pebble struct {
	Directory string         // ACME directory URL
	APIRoots  *x509.CertPool // trusts pebble's own HTTPS listeners
	Issuer    *x509.CertPool // the root that signs the certificates pebble issues
}

// StartPebble starts pebble-challtestsrv (as pebble's DNS server, answering
// 127.0.0.1 for every name) and pebble, both on 127.0.0.1 and free ports,
// waits until they answer, and kills both when the test ends. Their output
// is logged if the test fails.
func StartPebble(t testing.TB, pc PebbleConfig) *Pebble {
	t.Helper()
	pebbleBin, challBin := findPebble(t)
	dir := t.TempDir()
	certs := NewCerts(t)
	apiRoots, certFile, keyFile := certs.Pool, certs.CertFile, certs.KeyFile

	var lastErr error
	for attempt := range 3 { // a free port can be taken between choosing and binding it
		dnsPort, chalMgmt := freeTCPUDPPort(t), FreePort(t)
		chall := startProcess(t, fmt.Sprintf("challtestsrv#%d", attempt), challBin, nil,
			"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
			"-dnsserver", "127.0.0.1:"+strconv.Itoa(dnsPort),
			"-management", "127.0.0.1:"+strconv.Itoa(chalMgmt),
			"-doh", "", "-http01", "", "-https01", "", "-tlsalpn01", "")
		if lastErr = waitTCP(chall, "127.0.0.1:"+strconv.Itoa(chalMgmt), 10*time.Second); lastErr != nil {
			chall.kill()
			continue
		}

		apiPort, mgmtPort := FreePort(t), FreePort(t)
		profile := map[string]any{"description": "weft tests"}
		if pc.Validity > 0 {
			profile["validityPeriod"] = pc.Validity
		}
		cfg := map[string]any{"pebble": map[string]any{
			"listenAddress":           "127.0.0.1:" + strconv.Itoa(apiPort),
			"managementListenAddress": "127.0.0.1:" + strconv.Itoa(mgmtPort),
			"certificate":             certFile,
			"privateKey":              keyFile,
			"httpPort":                pc.HTTPPort,
			"tlsPort":                 pc.TLSPort,
			"ocspResponderURL":        "",
			"keyAlgorithm":            "ecdsa",
			"retryAfter":              map[string]int{"authz": 1, "order": 1},
			"profiles":                map[string]any{"default": profile},
		}}
		cfgFile := filepath.Join(dir, fmt.Sprintf("pebble-%d.json", attempt))
		b, _ := json.Marshal(cfg)
		if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		env := append(os.Environ(),
			"PEBBLE_VA_NOSLEEP=1",      // validate at once
			"PEBBLE_WFE_NONCEREJECT=0", // no random badNonce errors
			"PEBBLE_AUTHZREUSE=0",      // every order, renewals too, is validated afresh
		)
		peb := startProcess(t, fmt.Sprintf("pebble#%d", attempt), pebbleBin, env,
			"-config", cfgFile, "-dnsserver", "127.0.0.1:"+strconv.Itoa(dnsPort))

		client := &http.Client{
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: apiRoots}},
			Timeout:   5 * time.Second,
		}
		t.Cleanup(client.CloseIdleConnections)
		directory := fmt.Sprintf("https://127.0.0.1:%d/dir", apiPort)
		if lastErr = waitHTTP(peb, client, directory, 10*time.Second); lastErr != nil {
			peb.kill()
			chall.kill()
			continue
		}
		root, err := fetchPEMPool(client, fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmtPort))
		if err != nil {
			t.Fatalf("pebble's issuing root: %v", err)
		}
		return &Pebble{Directory: directory, APIRoots: apiRoots, Issuer: root}
	}
	t.Fatalf("starting pebble: %v", lastErr)
	return nil
}

// process is a child process the test owns.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *LockedBuffer
	done chan struct{} // closed when it has exited
	once sync.Once
}

func startProcess(t testing.TB, name, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{name: name, out: new(LockedBuffer), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.out.String())
		}
	})
	return p
}

// kill kills the process and waits for it to be gone.
func (p *process) kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
}

func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v):\n%s", p.name, p.cmd.ProcessState, p.out.String())
	default:
		return nil
	}
}

func waitTCP(p *process, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if err := p.exited(); err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: nothing listens on %s after %v", p.name, addr, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitHTTP(p *process, client *http.Client, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if err := p.exited(); err != nil {
			return err
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", p.name, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fetchPEMPool(client *http.Client, url string) (*x509.CertPool, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in %q", url, b)
	}
	return pool, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	// Below the kernel's ephemeral range: a port from there (what ":0"
	// gives) can be taken by any outgoing connection or ":0" listener of
	// a test running beside this one before the caller binds it again.
	lo := ephemeralLow()
	for range 50 {
		port := lo/2 + rand.IntN(lo-lo/2)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ephemeralLow is the first port the kernel hands out for ":0" and
// outgoing connections (Linux's ip_local_port_range; 32768, its default,
// where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo >= 2048 {
				return lo
			}
		}
	}
	return 32768
}

// freeTCPUDPPort returns a port on 127.0.0.1 free for both TCP and UDP (DNS).
func freeTCPUDPPort(t testing.TB) int {
	t.Helper()
	for range 20 {
		port := FreePort(t)
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// LockedBuffer is an io.Writer safe for concurrent use.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
