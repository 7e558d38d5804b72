package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/s3conn"
	"github.com/weft-server/weft/internal/site"
)

var bannerURL = regexp.MustCompile(`http://([^/ ]+)/`)

// StartBinary is a Starter that runs the weft binary at bin with `serve`,
// the options as flags and a configuration file, and args (for example
// "--engine", "process"). The site's rules and the virtual hosts go in a
// weft.toml written in a temporary folder (see configFile), the rest in
// flags, which args may add to. An access log sink of the options is fed
// from weft's JSON access log on its standard output. Stop sends SIGTERM
// and waits for the process to exit.
func StartBinary(bin string, args ...string) Starter {
	return func(t testing.TB, opts Options) *Server {
		t.Helper()
		conf := filepath.Join(t.TempDir(), "weft.toml")
		b, err := configFile(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conf, b, 0o644); err != nil {
			t.Fatal(err)
		}
		a := []string{"serve", opts.Site.Root, "--config", conf, "--addr", "127.0.0.1:0"}
		if opts.Engine.Log != nil {
			a = append(a, "--log-format", "json", "--access-log", "-")
		} else {
			a = append(a, "--no-access-log")
		}
		if opts.Site.Listing {
			a = append(a, "--listing")
		}
		if opts.Site.Dotfiles {
			a = append(a, "--dotfiles")
		}
		if u := opts.Site.Upload; u.On {
			a = append(a, "--upload", "--upload-dir", u.Dir, fmt.Sprintf("--upload-overwrite=%v", u.Overwrite),
				fmt.Sprintf("--upload-allow-anonymous=%v", u.AllowAnonymous))
			if u.MaxBytes > 0 {
				a = append(a, "--upload-max-bytes", fmt.Sprint(u.MaxBytes))
			}
		}
		if opts.Site.NoDownloads {
			a = append(a, "--no-downloads")
		}
		if opts.Site.DownloadMaxBytes > 0 {
			a = append(a, "--download-max-bytes", strconv.FormatInt(opts.Site.DownloadMaxBytes, 10))
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
		if opts.Site.Cache.MaxOpen > 0 {
			a = append(a, "--cache-max-open", fmt.Sprint(opts.Site.Cache.MaxOpen))
		}
		var env []string
		if o := opts.Site.Origin; s3conn.IsURL(opts.Site.Root) {
			a = append(a, "--s3-endpoint", o.Endpoint, fmt.Sprintf("--s3-path-style=%v", o.PathStyle))
			for flag, d := range map[string]time.Duration{"--origin-poll": o.Poll, "--origin-timeout": o.Timeout, "--origin-stale-max": o.StaleMax} {
				if d > 0 {
					a = append(a, flag, d.String())
				}
			}
			if o.CacheDir != "" {
				a = append(a, "--origin-cache-dir", o.CacheDir)
			}
			if o.CacheMaxBytes > 0 {
				a = append(a, "--origin-cache-max-bytes", fmt.Sprint(o.CacheMaxBytes))
			}
			// Credentials the way a user gives them: the environment.
			env = append(env, "AWS_ACCESS_KEY_ID="+o.AccessKey, "AWS_SECRET_ACCESS_KEY="+o.SecretKey)
		}
		cmd := exec.Command(bin, append(a, args...)...)
		// Tests run as root on CI, where weft would switch to nobody,
		// who cannot read the test's temporary folders: it stays root.
		cmd.Env = append(append(os.Environ(), "WEFT_ALLOW_ROOT=1"), env...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(out)
		line, err := rd.ReadString('\n')
		m := bannerURL.FindStringSubmatch(line)
		if err != nil || m == nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("weft did not announce its address: %q, %v", line, err)
		}
		if opts.Engine.Log != nil {
			go feedLog(rd, opts.Engine.Log)
		} else {
			go io.Copy(io.Discard, rd)
		}
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

// configFile is the weft.toml of opts: the site's rules at the top level
// (its other settings are flags, see StartBinary), or opts.Hosts as
// [[site]] tables, each with every setting of its site.
func configFile(opts Options) ([]byte, error) {
	top := rules(&opts.Site)
	if h := opts.Hosts; h != nil {
		if h.Unknown != 0 {
			top["unknown_host"] = h.Unknown
		}
		var sites []map[string]any
		for _, hc := range h.Sites {
			s := rules(&hc.Site)
			maps.Copy(s, basics(&hc.Site))
			if len(hc.Hosts) > 0 {
				s["hosts"] = hc.Hosts
			}
			if hc.Default {
				s["default"] = true
			}
			sites = append(sites, s)
		}
		top["site"] = sites
	}
	return toml.Marshal(top)
}

// basics are the keys of the settings of c that StartBinary passes as
// flags when there are no virtual hosts.
func basics(c *site.Config) map[string]any {
	m := map[string]any{"root": c.Root, "listing": c.Listing, "dotfiles": c.Dotfiles,
		"no_downloads": c.NoDownloads, "download_max_bytes": c.DownloadMaxBytes,
		"compress": !c.Compress.Off, "precompressed": !c.Compress.NoPrecompressed, "no_cache_control": c.NoCacheControl}
	if c.Index != "" {
		m["index"] = c.Index
	}
	if c.ETag != "" {
		m["etag"] = c.ETag
	}
	if len(c.MIME) > 0 {
		m["mime"] = c.MIME
	}
	var cc []string
	for _, r := range c.CacheControl {
		cc = append(cc, r.Glob+"="+r.Value)
	}
	if len(cc) > 0 {
		m["cache_control"] = cc
	}
	return m
}

// rules are the keys of c's site rules that are not at their defaults.
func rules(c *site.Config) map[string]any {
	pages := map[string]string{}
	for status, file := range c.ErrorPages {
		pages[strconv.Itoa(status)] = file
	}
	var proxies []string
	for _, p := range c.TrustedProxies {
		proxies = append(proxies, p.String())
	}
	m := map[string]any{}
	for key, v := range map[string]any{
		"headers": c.Headers, "security": c.Security, "hsts": c.HSTS, "cors": c.CORS,
		"redirects": c.Redirects, "clean_urls": c.CleanURLs, "trailing_slash": c.TrailingSlash,
		"error_pages": pages, "spa": c.SPA, "auth": c.Auth, "auth_failures": max(c.AuthFailures, 0),
		"allow_insecure_auth": c.AllowInsecureAuth, "symlinks": c.Symlinks, "trusted_proxies": proxies,
		"trusted_proxy_header": c.TrustedProxyHeader,
	} {
		if notEmpty(v) {
			m[key] = v
		}
	}
	if c.AuthFailures < 0 {
		m["auth_failures"] = 0 // the file's "no limit"
	}
	return m
}

// notEmpty reports whether v is neither its type's zero value nor an
// empty list or table.
func notEmpty(v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map {
		return rv.Len() > 0
	}
	return !rv.IsZero()
}

// feedLog gives log the records of weft's JSON access log lines in r.
func feedLog(r *bufio.Reader, log h1conn.RecordSink) {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var rec struct {
			Time      time.Time `json:"time"`
			Remote    string    `json:"remote"`
			Method    string    `json:"method"`
			Target    string    `json:"target"`
			Proto     string    `json:"proto"`
			Status    int       `json:"status"`
			Bytes     int64     `json:"bytes"`
			Sent      int64     `json:"bytes_sent"`
			Duration  float64   `json:"duration"`
			Referer   string    `json:"referer"`
			UserAgent string    `json:"user_agent"`
		}
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		addr, _ := netip.ParseAddr(rec.Remote)
		r := http1.Record{Remote: netip.AddrPortFrom(addr, 0), Time: rec.Time, Method: []byte(rec.Method), Target: []byte(rec.Target),
			Status: rec.Status, Bytes: rec.Bytes, Sent: rec.Sent, Referer: []byte(rec.Referer), UserAgent: []byte(rec.UserAgent),
			Duration: time.Duration(rec.Duration * float64(time.Second))}
		fmt.Sscanf(rec.Proto, "HTTP/%d.%d", &r.Major, &r.Minor)
		log.Log(&r)
	}
}
