package conformance

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var bannerURL = regexp.MustCompile(`http://([^/ ]+)/`)

// StartBinary is a Starter that runs the weft binary at bin with `serve`,
// the options as flags, and args (for example "--engine", "process"). Stop
// sends SIGTERM and waits for the process to exit.
func StartBinary(bin string, args ...string) Starter {
	return func(t testing.TB, opts Options) *Server {
		t.Helper()
		if what := noFlags(opts); what != "" {
			t.Skipf("weft serve has no flag for %s yet (the configuration file will carry it)", what)
		}
		a := []string{"serve", opts.Site.Root, "--addr", "127.0.0.1:0", "--no-access-log"}
		if opts.Site.Listing {
			a = append(a, "--listing")
		}
		if opts.Site.Dotfiles {
			a = append(a, "--dotfiles")
		}
		for ext, ctype := range opts.Site.MIME {
			a = append(a, "--mime", ext+"="+ctype)
		}
		if opts.Site.ETag != "" {
			a = append(a, "--etag", opts.Site.ETag)
		}
		for _, r := range opts.Site.CacheControl {
			a = append(a, "--cache-control", r.Glob+"="+r.Value)
		}
		if opts.Site.NoCacheControl {
			a = append(a, "--no-cache-control")
		}
		if opts.Site.Compress.Off {
			a = append(a, "--compress=false")
		}
		if opts.Site.Compress.NoPrecompressed {
			a = append(a, "--precompressed=false")
		}
		e := opts.Engine
		if e.ReadHeaderTimeout > 0 {
			a = append(a, "--read-header-timeout", e.ReadHeaderTimeout.String())
		}
		if e.IdleTimeout > 0 {
			a = append(a, "--idle-timeout", e.IdleTimeout.String())
		}
		if e.WriteTimeout > 0 {
			a = append(a, "--write-timeout", e.WriteTimeout.String())
		}
		if e.ShutdownTimeout > 0 {
			a = append(a, "--shutdown-timeout", e.ShutdownTimeout.String())
		}
		if e.MaxConns > 0 {
			a = append(a, "--max-conns", fmt.Sprint(e.MaxConns))
		}
		if e.Limits.MaxHeadBytes > 0 {
			a = append(a, "--max-header-bytes", fmt.Sprint(e.Limits.MaxHeadBytes))
		}
		if e.Limits.MaxHeaderCount > 0 {
			a = append(a, "--max-header-fields", fmt.Sprint(e.Limits.MaxHeaderCount))
		}
		cmd := exec.Command(bin, append(a, args...)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		m := bannerURL.FindStringSubmatch(line)
		if err != nil || m == nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("weft did not announce its address: %q, %v", line, err)
		}
		go io.Copy(io.Discard, out)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var mu sync.Mutex // a test's Stop and its cleanup may race after a failure
		stopped, explicit := false, false
		var result error
		stop := func() error {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return result
			}
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case result = <-exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				result = fmt.Errorf("weft (pid %d) did not exit within 30s of SIGTERM", cmd.Process.Pid)
			}
			return result
		}
		t.Cleanup(func() {
			err := stop()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !explicit {
				t.Errorf("shutdown: %v", err)
			}
		})
		addr := m[1]
		if strings.HasPrefix(addr, "localhost:") {
			addr = "127.0.0.1:" + strings.TrimPrefix(addr, "localhost:")
		}
		return &Server{Addr: addr, Stop: func() error { mu.Lock(); explicit = true; mu.Unlock(); return stop() }, PID: cmd.Process.Pid}
	}
}

// noFlags names what of opts the flags of `weft serve` cannot express
// (site rules that only the Go API has so far), or "".
func noFlags(opts Options) string {
	c := &opts.Site
	switch {
	case opts.Hosts != nil:
		return "virtual hosts"
	case len(c.Headers) > 0 || c.Security || c.HSTS != "":
		return "header rules"
	case c.CORS != nil:
		return "CORS"
	case len(c.Redirects) > 0 || c.CleanURLs || c.TrailingSlash != "":
		return "redirects"
	case len(c.ErrorPages) > 0 || c.SPA != "":
		return "error pages and the SPA fallback"
	case len(c.Auth) > 0 || c.AuthFailures != 0 || c.AllowInsecureAuth:
		return "basic authentication"
	case c.Symlinks != "" || len(c.TrustedProxies) > 0:
		return "symlink policies and trusted proxies"
	case opts.Engine.Log != nil:
		return "an access log sink of the test's"
	}
	return ""
}
