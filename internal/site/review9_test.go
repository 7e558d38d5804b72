// Regression tests from an adversarial review of issue 9 (configuration and
// site rules). A test's comment describes the defect it caught, in the code
// as it was then; every one passes since the fixes that followed.

package site

// Review of issue 9 (site rules): failing reproductions. Each test states
// the behaviour it expects; run with
//
//	go test -count=1 -run 'TestReview9' ./internal/site

import (
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// review9Tree writes files (name → content) beneath a new root.
func review9Tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// review9Open opens a site over root with cfg (Root set here).
func review9Open(t *testing.T, root string, cfg Config) *Site {
	t.Helper()
	cfg.Root = root
	cfg.Cache.Validity = time.Hour
	st, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// review9Serve answers a raw request as an engine would: the memory path
// first, then the disk path. It returns the status, the head (Fixed and
// Header lines) and the body (for an in-memory body).
func review9Serve(t *testing.T, st *Site, raw string, peer string) (int, string, string) {
	t.Helper()
	req := parseRequest(t, raw)
	if peer != "" {
		req.Remote = netip.MustParseAddrPort(peer)
	}
	resp := &http1.Response{}
	if !st.ServeFromMemory(req, resp) {
		st.ServeHTTP1(req, resp)
	}
	head := string(resp.Fixed.Text) + string(resp.Header.Text)
	body := string(resp.Body)
	if resp.Closer != nil {
		resp.Closer.Close()
	}
	return resp.Status, head, body
}

func review9Htpasswd(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte("alice:"+bcryptHash(t, "wonderland")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReview9AuthProtectsTheFileServed: an auth rule that names a file
// protects that file whatever request path serves it. The site already
// authorizes the file a rewrite or the SPA fallback serves (site.go
// serve), but not the page a clean URL serves (serveClean) nor the index
// a directory serves (serveName): "/secret" serves secret.html and
// "/docs/" serves docs/index.html without credentials.
func TestReview9AuthProtectsTheFileServed(t *testing.T) {
	root := review9Tree(t, map[string]string{
		"secret.html":     "the secret page",
		"docs/index.html": "the secret docs",
		"index.html":      "home",
	})
	file := review9Htpasswd(t)
	st := review9Open(t, root, Config{
		CleanURLs: true,
		Auth: []AuthRule{
			{Prefix: "/secret.html", Htpasswd: file},
			{Prefix: "/docs/index.html", Htpasswd: file},
		},
	})
	// Sanity: the protected paths themselves ask for credentials.
	for _, p := range []string{"/secret.html", "/docs/index.html"} {
		if status, _, _ := review9Serve(t, st, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n", ""); status != 401 {
			t.Fatalf("GET %s: %d, want 401", p, status)
		}
	}
	for _, p := range []string{"/secret", "/docs/"} {
		status, _, body := review9Serve(t, st, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n", "")
		if status != 401 {
			t.Errorf("GET %s without credentials: %d (body %q), want 401: the protected file is served under another path", p, status, body)
		}
	}
}

// TestReview9CORSVaryOriginWhereOriginEchoed: whenever a response echoes
// the request's Origin in Access-Control-Allow-Origin it must say
// "Vary: Origin", or a shared cache hands one origin's answer to
// another. The entry's static lines (Vary: Origin) are chosen by the
// path of the file served (fileHeaders → cors.static), the echo by the
// request path (finish → cors.allowed); when the two differ (the root's
// index, a clean URL, a rewrite), the echo goes out without Vary.
func TestReview9CORSVaryOriginWhereOriginEchoed(t *testing.T) {
	root := review9Tree(t, map[string]string{
		"index.html":  "home",
		"widget.html": "widget",
		"data.json":   `{"a":1}`,
	})
	st := review9Open(t, root, Config{
		CleanURLs: true,
		CORS:      &CORS{Origins: []string{"https://app.example"}, Paths: []string{"/", "/widget", "/api/**"}},
		Redirects: []Redirect{{From: "/api/data", To: "/data.json", Status: 200}},
	})
	for _, p := range []string{"/", "/widget", "/api/data"} {
		for i := 0; i < 2; i++ { // disk path, then memory path
			raw := "GET " + p + " HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n"
			status, head, _ := review9Serve(t, st, raw, "")
			if status != 200 {
				t.Fatalf("GET %s: %d\n%s", p, status, head)
			}
			echo := strings.Contains(head, "Access-Control-Allow-Origin: https://app.example\r\n")
			vary := strings.Contains(head, "Vary: Origin\r\n") || strings.Contains(head, ", Origin\r\n")
			if echo && !vary {
				t.Errorf("GET %s (try %d): Origin echoed without Vary: Origin\n%s", p, i+1, head)
			}
		}
	}
}

// TestReview9ForwardedFromTheClientIgnored: behind a proxy that appends
// X-Forwarded-For (nginx's $proxy_add_x_forwarded_for, HAProxy's
// forwardfor, AWS ALB, Cloudflare: none writes Forwarded) a client's own
// "Forwarded: for=…" reaches weft untouched, and forwardedClient prefers
// it to the proxy's X-Forwarded-For (proxies.go): the client names its
// own address in the access log and in the failed-login limit, and so
// logs forged entries and escapes the limit by changing it per attempt.
func TestReview9ForwardedFromTheClientIgnored(t *testing.T) {
	root := review9Tree(t, map[string]string{"admin/index.html": "admin"})
	st := review9Open(t, root, Config{
		Auth:           []AuthRule{{Prefix: "/admin", Htpasswd: review9Htpasswd(t)}},
		AuthFailures:   2,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	bad := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:guess"))
	// The real client is 198.51.100.7, as the trusted proxy 10.0.0.1
	// appended to X-Forwarded-For; "Forwarded" is the client's own,
	// different for each attempt.
	var statuses []int
	for i := 0; i < 6; i++ {
		raw := "GET /admin/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + bad +
			"\r\nForwarded: for=203.0.113." + string(rune('1'+i)) +
			"\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n"
		status, _, _ := review9Serve(t, st, raw, "10.0.0.1:40000")
		statuses = append(statuses, status)
	}
	if statuses[len(statuses)-1] != 429 {
		t.Errorf("six failed logins from one client behind the proxy: statuses %v, want 429 after 2: the client's own Forwarded header chose the address counted", statuses)
	}
	req := parseRequest(t, "GET / HTTP/1.1\r\nHost: x\r\nForwarded: for=203.0.113.66\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n")
	req.Remote = netip.MustParseAddrPort("10.0.0.1:40000")
	resp := &http1.Response{}
	st.noteClient(req, resp)
	if resp.Client.String() == "203.0.113.66" {
		t.Errorf("logged client %v: the address the client wrote itself, not the one the proxy appended", resp.Client)
	}
}

// TestReview9ErrorPageUnderAuth: the site authorizes the file a rewrite
// or the SPA fallback serves (site.go serve), but an error page is sent
// to anyone (errorpages.go errorPage → pageEntry): with the 404 page
// configured inside a protected folder, every 404 anywhere on the site
// hands out that protected file without credentials. Open should refuse
// an error page (and the SPA file) that an auth rule covers, or the
// error page should fall back to the built-in page for a client that
// may not read it.
func TestReview9ErrorPageUnderAuth(t *testing.T) {
	root := review9Tree(t, map[string]string{
		"index.html":           "home",
		"private/index.html":   "members",
		"private/members.html": "the member list",
	})
	st, err := Open(Config{
		Root:       root,
		Auth:       []AuthRule{{Prefix: "/private", Htpasswd: review9Htpasswd(t)}},
		ErrorPages: map[int]string{404: "private/members.html"},
	})
	if err != nil {
		return // refused: fine
	}
	defer st.Close()
	if status, _, _ := review9Serve(t, st, "GET /private/members.html HTTP/1.1\r\nHost: x\r\n\r\n", ""); status != 401 {
		t.Fatalf("the page itself: %d, want 401", status)
	}
	status, _, body := review9Serve(t, st, "GET /no-such-page HTTP/1.1\r\nHost: x\r\n\r\n", "")
	if strings.Contains(body, "member list") {
		t.Errorf("GET /no-such-page: %d with the protected file's body %q, no credentials asked", status, body)
	}
}

// TestReview9SplatInQueryEncoded: Redirect.To documents ":splat is
// replaced by the splat, percent-encoded", but escapePath (redirects.go)
// leaves "&", "=", "+" and ";" as they are, which is right in a path and
// wrong in a query: with to = "/search?q=:splat" a request for
// "/q/a&admin=1" is sent to "/search?q=a&admin=1", a parameter the
// redirect never had (and "+" turns into a space). Where :splat stands
// after "?", it needs query-component encoding.
func TestReview9SplatInQueryEncoded(t *testing.T) {
	root := review9Tree(t, map[string]string{"index.html": "home"})
	st := review9Open(t, root, Config{Redirects: []Redirect{{From: "/q/*", To: "https://search.example/?q=:splat", Status: 302}}})
	_, head, _ := review9Serve(t, st, "GET /q/a&admin=1 HTTP/1.1\r\nHost: x\r\n\r\n", "")
	if strings.Contains(head, "&admin=1") {
		t.Errorf("the splat added a query parameter:\n%s", head)
	}
}

// TestReview9SelfRedirectRefused: a redirect whose target its own From
// matches again, with the same splat, is a loop every client follows
// until it gives up (ERR_TOO_MANY_REDIRECTS): "/a" → "/a", or
// "/blog/**" → "/blog/:splat". compileRedirects (redirects.go) accepts
// both; the loops that can be seen from one rule alone should be an
// error naming the rule, as the other rule mistakes are.
func TestReview9SelfRedirectRefused(t *testing.T) {
	for _, r := range []Redirect{
		{From: "/a", To: "/a"},
		{From: "/blog/**", To: "/blog/:splat", Status: 308},
	} {
		if err := (Config{Redirects: []Redirect{r}}).Validate(); err == nil {
			t.Errorf("%+v: accepted, a redirect loop", r)
		}
	}
}
