package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"image/png"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// sampleResources are the files the sample page loads (index.html links the
// stylesheet and the icon, and its logo is <use href="/favicon.svg#mark">),
// with the Content-Type a browser must get for each.
var sampleResources = map[string]string{
	"/":            "text/html",
	"/style.css":   "text/css",
	"/favicon.svg": "image/svg+xml",
}

// TestBrowser loads the embedded sample site in headless Chromium over
// HTTPS, once over HTTP/2 (QUIC off) and once over HTTP/3 (QUIC forced on for
// the origin), and reads from the DevTools protocol the protocol, status and
// MIME type of every response, every failed load and every console error.
//
// Chromium trusts weft's development leaf through
// --ignore-certificate-errors-spki-list, which exempts that one key and keeps
// verification on for anything else. Without Chromium the test skips, or
// fails when WEFT_TEST_REQUIRE_CHROMIUM=1 (as in CI).
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	srv := startTLSSample(t)

	runs := []struct {
		name  string
		flags []chromedp.ExecAllocatorOption
		proto func(string) bool
		want  string
	}{
		// QUIC off, so that the run stays HTTP/2 whatever Chromium makes
		// of the Alt-Svc offer. (With QUIC on and not forced, Chromium 156
		// kept using its HTTP/2 connection for the whole page.)
		{"HTTP2", []chromedp.ExecAllocatorOption{chromedp.Flag("disable-quic", true)},
			func(p string) bool { return p == "h2" }, "h2"},
		{"HTTP3", []chromedp.ExecAllocatorOption{
			chromedp.Flag("enable-quic", true),
			chromedp.Flag("origin-to-force-quic-on", srv.hostPort),
		}, func(p string) bool { return p == "h3" || strings.HasPrefix(p, "h3-") }, "h3"},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			rec := browse(t, chromium, srv, run.flags)
			for path, mime := range sampleResources {
				r, ok := rec.byPath(path)
				if !ok {
					t.Errorf("%s: the browser did not load it (loaded: %v)", path, rec.paths())
					continue
				}
				if !run.proto(r.protocol) || (r.status != 200 && r.status != 304) || r.mime != mime || !r.finished {
					t.Errorf("%s: protocol %q, status %d, MIME %q, finished %v; want %s, 200 or 304, %s, true",
						path, r.protocol, r.status, r.mime, r.finished, run.want, mime)
				}
			}
			for _, r := range rec.responses {
				if !strings.HasPrefix(r.url, srv.origin+"/") {
					t.Errorf("%s: a request off the sample's origin", r.url)
				} else if !run.proto(r.protocol) || (r.status != 200 && r.status != 304) {
					t.Errorf("%s: protocol %q, status %d; want %s, 200 or 304", r.url, r.protocol, r.status, run.want)
				}
			}
			for _, f := range rec.failures {
				t.Errorf("load failed: %s", f)
			}
			for _, m := range rec.console {
				t.Errorf("console: %s", m)
			}
		})
	}
}

// chromiumNames are the commands that run Chromium (Debian's chromium and
// chromium-headless-shell packages, other distributions' names).
var chromiumNames = []string{"chromium", "chromium-headless-shell", "chromium-browser", "headless_shell", "google-chrome"}

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no Chromium on PATH (looked for %s)", strings.Join(chromiumNames, ", "))
	if os.Getenv("WEFT_TEST_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + "; WEFT_TEST_REQUIRE_CHROMIUM=1 makes its absence a failure")
	}
	t.Skip(msg + "; skipping (set WEFT_TEST_REQUIRE_CHROMIUM=1 to fail instead)")
	return ""
}

type tlsSample struct {
	origin   string // https://127.0.0.1:PORT
	hostPort string // 127.0.0.1:PORT
	spki     string // base64 of the SHA-256 of the served leaf's SubjectPublicKeyInfo
}

var (
	httpsURLRe = regexp.MustCompile(`https://[^ ]+/`)
	devCARe    = regexp.MustCompile(`local CA (\S+\.pem)`)
)

// startTLSSample runs `weft serve --tls-self-signed --http3 -p 0` on the
// embedded site with its development CA in a temporary config directory, and
// reads the leaf it serves, checking on the way that the CA it announced
// signed it for 127.0.0.1.
func startTLSSample(t *testing.T) tlsSample {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(weftBin(t), "serve", "--tls-self-signed", "--http3", "-p", "0")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
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

	banner := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if httpsURLRe.MatchString(sc.Text()) {
				break
			}
		}
		banner <- seen.String()
		for sc.Scan() { // keep draining so weft never blocks on a full pipe
		}
	}()
	var text string
	select {
	case text = <-banner:
	case <-time.After(15 * time.Second):
		t.Fatalf("no banner within 15s; stderr: %s", stderr.String())
	}
	u, err := url.Parse(httpsURLRe.FindString(text))
	if err != nil || u.Host == "" {
		t.Fatalf("banner %q has no https URL; stderr: %s", text, stderr.String())
	}
	caPath := devCARe.FindStringSubmatch(text + stderr.String())
	if caPath == nil {
		t.Fatalf("banner %q names no development CA", text)
	}
	caPEM, err := os.ReadFile(caPath[1])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no PEM certificate", caPath[1])
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", u.Host, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to %s with the announced CA: %v", u.Host, err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return tlsSample{
		origin:   "https://" + u.Host,
		hostPort: u.Host,
		spki:     base64.StdEncoding.EncodeToString(sum[:]),
	}
}

// response is what the DevTools protocol told of one request.
type response struct {
	url, protocol, mime string
	status              int64
	finished            bool
}

// record is what one page load showed.
type record struct {
	responses []*response // in the order the responses arrived
	failures  []string    // loads that failed
	console   []string    // console errors, exceptions and error log entries
}

func (r *record) byPath(path string) (*response, bool) {
	for _, resp := range r.responses {
		if u, err := url.Parse(resp.url); err == nil && u.Path == path {
			return resp, true
		}
	}
	return nil, false
}

func (r *record) paths() []string {
	var ps []string
	for _, resp := range r.responses {
		ps = append(ps, resp.url)
	}
	return ps
}

// browse starts a fresh headless Chromium with the flags, loads the sample
// page, waits until every file in sampleResources has finished loading (or a
// few seconds), takes a screenshot, and returns what the DevTools protocol
// reported.
func browse(t *testing.T, chromium string, srv tlsSample, flags []chromedp.ExecAllocatorOption) *record {
	ctx, browserOut, stop := newBrowser(t, chromium, 25*time.Second,
		append([]chromedp.ExecAllocatorOption{chromedp.Flag("ignore-certificate-errors-spki-list", srv.spki)}, flags...)...)
	defer stop()

	var (
		mu   sync.Mutex
		rec  = &record{}
		byID = map[network.RequestID]*response{}
	)
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			r := &response{url: ev.Response.URL, protocol: ev.Response.Protocol, mime: ev.Response.MimeType, status: ev.Response.Status}
			byID[ev.RequestID] = r
			rec.responses = append(rec.responses, r)
		case *network.EventLoadingFinished:
			if r := byID[ev.RequestID]; r != nil {
				r.finished = true
			}
		case *network.EventLoadingFailed:
			what := string(ev.RequestID)
			if r := byID[ev.RequestID]; r != nil {
				what = r.url
			}
			msg := fmt.Sprintf("%s (%s): %s", what, ev.Type, ev.ErrorText)
			if ev.BlockedReason != "" {
				msg += ", blocked: " + string(ev.BlockedReason)
			}
			if ev.CorsErrorStatus != nil {
				msg += ", CORS: " + string(ev.CorsErrorStatus.CorsError)
			}
			rec.failures = append(rec.failures, msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				rec.console = append(rec.console, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			rec.console = append(rec.console, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				rec.console = append(rec.console, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("start Chromium: %v\n%s", err, tail(browserOut.String()))
	}

	start := time.Now()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(srv.origin+"/"))
	if err != nil {
		t.Fatalf("navigate to %s/: %v\nChromium's output ends: %s", srv.origin, err, tail(browserOut.String()))
	}
	t.Logf("document: %s %d over %s in %v", resp.URL, resp.Status, resp.Protocol, time.Since(start).Round(time.Millisecond))

	// The load event can come before the icon is fetched: wait for it too.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := true
		for path := range sampleResources {
			if r, ok := rec.byPath(path); !ok || !r.finished {
				done = false
			}
		}
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The stylesheet was parsed and applied, and the page is the sample.
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || !strings.HasPrefix(title, "weft") {
		t.Errorf("title %q, %v; want the sample's", title, err)
	}
	rules, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.styleSheets.length && document.styleSheets[0].cssRules.length"))
	if err != nil || rules == 0 {
		t.Errorf("style.css: %d rules applied, %v", rules, err)
	}

	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Empty() {
		t.Errorf("screenshot is not a non-empty PNG: %v", err)
	}
	file := filepath.Join(t.TempDir(), "sample.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, r := range rec.responses {
		t.Logf("%-4s %d %-14s %s", r.protocol, r.status, r.mime, r.url)
	}
	// A copy: the listener may still run until the deferred cancels.
	out := &record{failures: slices.Clone(rec.failures), console: slices.Clone(rec.console)}
	for _, r := range rec.responses {
		c := *r
		out.responses = append(out.responses, &c)
	}
	return out
}

// tail is the end of Chromium's output, which is mostly D-Bus complaints.
func tail(s string) string {
	const n = 2000
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// newBrowser starts headless Chromium with a home and profile of its own
// in the test's temporary folders and the given flags, for at most limit.
// out collects the browser's output, for failures; stop ends it.
func newBrowser(t *testing.T, chromium string, limit time.Duration, flags ...chromedp.ExecAllocatorOption) (ctx context.Context, out *syncBuffer, stop func()) {
	home := t.TempDir()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache")),
	)
	opts = append(opts, flags...)
	out = &syncBuffer{}
	opts = append(opts, chromedp.CombinedOutput(out))
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	ctx, cancelTab := chromedp.NewContext(ctx)
	return ctx, out, func() { cancelTab(); cancelAlloc(); cancel() }
}
