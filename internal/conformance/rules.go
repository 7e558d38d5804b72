package conformance

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// The site rules (issue 9), each on a server of its own over rulesTree.

func (s *suite) rules(t *testing.T) {
	t.Run("Headers", s.headerRules)
	t.Run("CORS", s.cors)
	t.Run("Redirects", s.redirects)
	t.Run("CleanURLs", s.cleanURLs)
	t.Run("ErrorPages", s.errorPages)
	t.Run("SPA", s.spa)
	t.Run("Auth", s.auth)
	t.Run("VirtualHosts", s.virtualHosts)
	if !s.origin { // an object store has no links
		t.Run("Symlinks", s.symlinks)
	}
	t.Run("TrustedProxies", s.trustedProxies)
}

const (
	rulesIndex = "<!doctype html><title>rules</title>\n"
	aboutHTML  = "<!doctype html><title>about</title>\n"
	guideHTML  = "<!doctype html><title>guide</title>\n"
	page404    = "<!doctype html><title>lost</title><h1>not here</h1>\n"
	page403    = "<!doctype html><title>locked</title>\n"
	page405    = "<!doctype html><title>no such method</title>\n"
	secretTxt  = "the staff only\n"
)

// rulesTree writes the files the rule cases serve.
func rulesTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	var js strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&js, "export const v%d = %d;\n", i, i)
	}
	for name, body := range map[string]string{
		"index.html":             rulesIndex,
		"hello.txt":              helloTxt,
		"about.html":             aboutHTML,
		"docs/index.html":        "<!doctype html><title>docs</title>\n",
		"docs/guide.html":        guideHTML,
		"assets/app.js":          "console.log('app')\n",
		"assets/big.js":          js.String(),
		"assets/logo.png":        "\x89PNG\r\n\x1a\n",
		"embed/widget.html":      "<p>widget</p>\n",
		"new.html":               "<p>new</p>\n",
		"404.html":               page404,
		"403.html":               page403,
		"errors/405.html":        page405,
		"locked/.keep":           "",
		"admin/secret.txt":       secretTxt,
		"admin/public/hello.txt": helloTxt,
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return root
}

// reqHost is req with the given Host.
func reqHost(method, path, host string, headers ...string) string {
	return strings.Replace(req(method, path, headers...), "Host: test\r\n", "Host: "+host+"\r\n", 1)
}

func wantNoHeader(t *testing.T, r *Resp, name string) {
	t.Helper()
	if v := r.Header.Values(name); len(v) > 0 {
		t.Errorf("%s: %q, want none\n%s", name, v, r.Raw)
	}
}

// wantOnce checks that each of names is at most one line of r.
func wantOnce(t *testing.T, r *Resp, names ...string) {
	t.Helper()
	for _, name := range names {
		if v := r.Header.Values(name); len(v) > 1 {
			t.Errorf("%s %d times: %q\n%s", name, len(v), v, r.Raw)
		}
	}
}

func wantBody(t *testing.T, r *Resp, want string) {
	t.Helper()
	if r.Body != want {
		t.Errorf("body %q, want %q\n%s", r.Body, want, r.Raw)
	}
}

func (s *suite) headerRules(t *testing.T) {
	tree := s.treeRoot(t, rulesTree(t))
	srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, Security: true, Headers: []site.HeaderRule{
		{For: "/assets/**", Set: map[string]string{"Cache-Control": "public, max-age=3600"}, Add: map[string]string{"X-Asset": "yes"}},
		{For: "*.txt", Remove: []string{"Last-Modified", "Accept-Ranges"}, Set: map[string]string{"X-Text": "1"}},
		{For: "/embed/**", Remove: []string{"X-Frame-Options"}, Add: map[string]string{"X-Asset": "embedded"}},
		{For: "/docs/**", Set: map[string]string{"Content-Security-Policy": "default-src 'none'"}},
	}}})
	preset := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
		"X-Frame-Options":        "SAMEORIGIN",
	}
	wantPreset := func(t *testing.T, r *Resp) {
		t.Helper()
		for k, v := range preset {
			wantHeader(t, r, k, v)
		}
		if !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src") {
			t.Errorf("no Content-Security-Policy\n%s", r.Raw)
		}
		// HSTS only over TLS, and this is plain HTTP.
		wantNoHeader(t, r, "Strict-Transport-Security")
	}
	t.Run("Glob", func(t *testing.T) {
		for i := range 2 { // the second from the cache
			r := one(t, srv.Addr, get("/assets/app.js"))
			wantStatus(t, r, 200)
			wantHeader(t, r, "X-Asset", "yes")
			wantHeader(t, r, "Cache-Control", "public, max-age=3600")
			wantPreset(t, r)
			if len(r.Header.Values("Cache-Control")) != 1 {
				t.Errorf("request %d: Cache-Control lines %q", i, r.Header.Values("Cache-Control"))
			}
		}
		r := one(t, srv.Addr, get("/index.html"))
		wantPreset(t, r)
		wantNoHeader(t, r, "X-Asset")
		wantHeader(t, r, "Cache-Control", site.NoCache)
	})
	t.Run("NotModifiedKeepsThem", func(t *testing.T) {
		g := one(t, srv.Addr, get("/assets/app.js"))
		r := one(t, srv.Addr, get("/assets/app.js", "If-None-Match: "+g.Header.Get("ETag")))
		wantStatus(t, r, 304)
		wantHeader(t, r, "X-Asset", "yes")
		wantHeader(t, r, "Cache-Control", "public, max-age=3600")
		wantHeader(t, r, "X-Content-Type-Options", "nosniff")
	})
	t.Run("Remove", func(t *testing.T) {
		r := one(t, srv.Addr, get("/hello.txt"))
		wantStatus(t, r, 200)
		wantHeader(t, r, "X-Text", "1")
		wantNoHeader(t, r, "Last-Modified")
		wantNoHeader(t, r, "Accept-Ranges")
		r = one(t, srv.Addr, get("/embed/widget.html"))
		wantNoHeader(t, r, "X-Frame-Options")
		wantHeader(t, r, "X-Content-Type-Options", "nosniff")
		if got := r.Header.Values("X-Asset"); len(got) != 1 || got[0] != "embedded" {
			t.Errorf("X-Asset %q", got)
		}
	})
	t.Run("SetReplacesPreset", func(t *testing.T) {
		r := one(t, srv.Addr, get("/docs/guide.html"))
		if got := r.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != "default-src 'none'" {
			t.Errorf("Content-Security-Policy %q", got)
		}
	})
	t.Run("CompressedVariant", func(t *testing.T) {
		r := variant(t, srv.Addr, "/assets/big.js", "br", "br")
		wantHeader(t, r, "Content-Encoding", "br")
		wantHeader(t, r, "X-Asset", "yes")
		wantHeader(t, r, "Cache-Control", "public, max-age=3600")
		wantPreset(t, r)
	})
	t.Run("ErrorsGetThePresetOnly", func(t *testing.T) {
		r := one(t, srv.Addr, get("/assets/missing.js"))
		wantStatus(t, r, 404)
		wantPreset(t, r)
		wantNoHeader(t, r, "X-Asset")
		wantNoHeader(t, r, "Cache-Control")
	})
	t.Run("Redirect", func(t *testing.T) {
		r := one(t, srv.Addr, get("/assets"))
		wantStatus(t, r, 301)
		wantHeader(t, r, "X-Asset", "yes")
		wantPreset(t, r)
	})
}

func (s *suite) cors(t *testing.T) {
	tree := s.treeRoot(t, rulesTree(t))
	srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, CORS: &site.CORS{
		Origins:     []string{"https://app.example", "http://localhost:3000"},
		Methods:     []string{"GET", "HEAD", "POST"},
		Headers:     []string{"X-Token", "Content-Type"},
		Expose:      []string{"ETag"},
		Credentials: true,
		MaxAge:      600,
	}}})
	const origin = "Origin: https://app.example"
	wantVaryOrigin := func(t *testing.T, r *Resp) {
		t.Helper()
		if !strings.Contains(strings.Join(r.Header.Values("Vary"), ", "), "Origin") {
			t.Errorf("Vary %q lacks Origin\n%s", r.Header.Values("Vary"), r.Raw)
		}
	}
	t.Run("Preflight", func(t *testing.T) {
		r := one(t, srv.Addr, req("OPTIONS", "/hello.txt", origin, "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: x-token"))
		wantStatus(t, r, 204)
		wantHeader(t, r, "Access-Control-Allow-Origin", "https://app.example")
		wantHeader(t, r, "Access-Control-Allow-Credentials", "true")
		wantHeader(t, r, "Access-Control-Allow-Methods", "GET, HEAD, POST")
		wantHeader(t, r, "Access-Control-Allow-Headers", "X-Token, Content-Type")
		wantHeader(t, r, "Access-Control-Max-Age", "600")
		wantHeader(t, r, "Content-Length", "")
		wantVaryOrigin(t, r)
		wantOnce(t, r, "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods")
	})
	t.Run("PreflightOtherOrigin", func(t *testing.T) {
		r := one(t, srv.Addr, req("OPTIONS", "/hello.txt", "Origin: https://evil.example", "Access-Control-Request-Method: GET"))
		wantStatus(t, r, 200)
		wantNoHeader(t, r, "Access-Control-Allow-Origin")
		wantHeader(t, r, "Allow", "GET, HEAD, OPTIONS")
		wantVaryOrigin(t, r)
	})
	t.Run("Simple", func(t *testing.T) {
		for range 2 { // the second from the cache
			r := one(t, srv.Addr, get("/hello.txt", origin))
			wantStatus(t, r, 200)
			wantHeader(t, r, "Access-Control-Allow-Origin", "https://app.example")
			wantHeader(t, r, "Access-Control-Allow-Credentials", "true")
			wantHeader(t, r, "Access-Control-Expose-Headers", "ETag")
			wantVaryOrigin(t, r)
			wantOnce(t, r, "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers")
		}
		r := one(t, srv.Addr, get("/hello.txt", "Origin: HTTP://LOCALHOST:3000"))
		wantHeader(t, r, "Access-Control-Allow-Origin", "HTTP://LOCALHOST:3000")
	})
	t.Run("NoOrigin", func(t *testing.T) {
		r := one(t, srv.Addr, get("/hello.txt"))
		wantStatus(t, r, 200)
		wantNoHeader(t, r, "Access-Control-Allow-Origin")
		wantVaryOrigin(t, r) // a cache must not hand this answer to a cross-origin request
	})
	t.Run("OtherOrigin", func(t *testing.T) {
		r := one(t, srv.Addr, get("/hello.txt", "Origin: https://app.example.evil"))
		wantStatus(t, r, 200)
		wantNoHeader(t, r, "Access-Control-Allow-Origin")
		wantNoHeader(t, r, "Access-Control-Allow-Credentials")
	})
	t.Run("NotFound", func(t *testing.T) {
		r := one(t, srv.Addr, get("/missing.txt", origin))
		wantStatus(t, r, 404)
		wantHeader(t, r, "Access-Control-Allow-Origin", "https://app.example")
		wantVaryOrigin(t, r)
	})
	t.Run("AnyOrigin", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, CORS: &site.CORS{Origins: []string{"*"}, Paths: []string{"/assets/**"}}}})
		r := one(t, srv.Addr, get("/assets/app.js"))
		wantHeader(t, r, "Access-Control-Allow-Origin", "*")
		if strings.Contains(r.Header.Get("Vary"), "Origin") {
			t.Errorf("Vary: Origin for the same answer to everyone\n%s", r.Raw)
		}
		r = one(t, srv.Addr, get("/assets/app.js", origin))
		if got := r.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "*" {
			t.Errorf("Access-Control-Allow-Origin %q", got)
		}
		r = one(t, srv.Addr, req("OPTIONS", "/assets/app.js", origin, "Access-Control-Request-Method: GET"))
		wantStatus(t, r, 204)
		wantHeader(t, r, "Access-Control-Allow-Origin", "*")
		wantHeader(t, r, "Access-Control-Allow-Methods", "GET, HEAD")
		r = one(t, srv.Addr, get("/hello.txt", origin)) // outside Paths
		wantNoHeader(t, r, "Access-Control-Allow-Origin")
	})
}

func (s *suite) redirects(t *testing.T) {
	tree := s.treeRoot(t, rulesTree(t))
	srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, Redirects: []site.Redirect{
		{From: "/old", To: "/new.html"},
		{From: "/found", To: "/new.html", Status: 302},
		{From: "/temporary", To: "/new.html", Status: 307},
		{From: "/permanent", To: "/new.html", Status: 308},
		{From: "/blog/**", To: "/posts/:splat", Status: 301},
		{From: "/away/*", To: "https://example.com/x/:splat?from=weft", Status: 302},
		{From: "/hello.txt", To: "/new.html", Status: 302}, // rules win over files
		{From: "/rewrite/**", To: "/docs/guide.html", Status: 200},
		{From: "/guide", To: "/docs/guide.html", Status: 200},
		{From: "/handbook", To: "/docs", Status: 200}, // a directory: its index, no redirect
		{From: "*.php", To: "/index.html", Status: 301},
	}}})
	for _, tc := range []struct {
		path   string
		status int
		loc    string
	}{
		{"/old", 301, "/new.html"},
		{"/old?a=1&b", 301, "/new.html?a=1&b"},
		{"/found", 302, "/new.html"},
		{"/temporary", 307, "/new.html"},
		{"/permanent", 308, "/new.html"},
		{"/blog/2024/hello", 301, "/posts/2024/hello"},
		{"/blog//2024/%68ello%20world", 301, "/posts/2024/hello%20world"},
		{"/blog", 301, "/posts/"},
		{"/away/page", 302, "https://example.com/x/page?from=weft"},
		{"/away/page?q=1", 302, "https://example.com/x/page?from=weft"},
		{"/hello.txt", 302, "/new.html"},
		{"/deep/x.php", 301, "/index.html"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			for range 2 {
				r := one(t, srv.Addr, get(tc.path))
				wantStatus(t, r, tc.status)
				wantHeader(t, r, "Location", tc.loc)
				if r.Body == "" {
					t.Errorf("no body")
				}
			}
		})
	}
	t.Run("Rewrite", func(t *testing.T) {
		for _, p := range []string{"/rewrite/a/b", "/guide", "/guide?x=1"} {
			for range 2 {
				r := one(t, srv.Addr, get(p))
				wantStatus(t, r, 200)
				wantBody(t, r, guideHTML)
				wantNoHeader(t, r, "Location")
			}
		}
	})
	t.Run("RewriteToDirectory", func(t *testing.T) {
		r := one(t, srv.Addr, get("/handbook"))
		wantStatus(t, r, 200)
		wantBody(t, r, "<!doctype html><title>docs</title>\n")
	})
	t.Run("AwayOnlyOneSegment", func(t *testing.T) {
		wantStatus(t, one(t, srv.Addr, get("/away/a/b")), 404) // "*" does not cross "/"
	})
}

func (s *suite) cleanURLs(t *testing.T) {
	tree := s.treeRoot(t, rulesTree(t))
	t.Run("Default", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin}})
		wantStatus(t, one(t, srv.Addr, get("/about")), 404)
		wantStatus(t, one(t, srv.Addr, get("/about.html")), 200)
	})
	t.Run("On", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, CleanURLs: true}})
		for range 2 {
			r := one(t, srv.Addr, get("/about"))
			wantStatus(t, r, 200)
			wantBody(t, r, aboutHTML)
			r = one(t, srv.Addr, get("/about.html?x=1"))
			wantStatus(t, r, 301)
			wantHeader(t, r, "Location", "/about?x=1")
		}
		r := one(t, srv.Addr, get("/docs/index.html"))
		wantStatus(t, r, 301)
		wantHeader(t, r, "Location", "/docs/")
		r = one(t, srv.Addr, get("/index.html"))
		wantStatus(t, r, 301)
		wantHeader(t, r, "Location", "/")
		wantBody(t, one(t, srv.Addr, get("/docs/guide")), guideHTML)
		wantStatus(t, one(t, srv.Addr, get("/docs/guide/")), 404)
		wantStatus(t, one(t, srv.Addr, get("/missing.html")), 404)
		wantStatus(t, one(t, srv.Addr, get("/docs")), 301) // a directory, as ever
		wantStatus(t, one(t, srv.Addr, get("/hello.txt")), 200)
	})
	t.Run("TrailingSlashAdd", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, CleanURLs: true, TrailingSlash: site.TrailingSlashAdd}})
		r := one(t, srv.Addr, get("/about"))
		wantStatus(t, r, 301)
		wantHeader(t, r, "Location", "/about/")
		for range 2 {
			wantBody(t, one(t, srv.Addr, get("/about/")), aboutHTML)
		}
		r = one(t, srv.Addr, get("/about.html"))
		wantStatus(t, r, 301)
		wantHeader(t, r, "Location", "/about/")
		wantHeader(t, one(t, srv.Addr, get("/docs")), "Location", "/docs/")
		wantStatus(t, one(t, srv.Addr, get("/hello.txt")), 200)
	})
	t.Run("TrailingSlashRemove", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, CleanURLs: true, TrailingSlash: site.TrailingSlashRemove}})
		for range 2 {
			r := one(t, srv.Addr, get("/docs/?v=2"))
			wantStatus(t, r, 301)
			wantHeader(t, r, "Location", "/docs?v=2")
			r = one(t, srv.Addr, get("/docs"))
			wantStatus(t, r, 200)
			wantBody(t, r, "<!doctype html><title>docs</title>\n")
		}
		wantHeader(t, one(t, srv.Addr, get("/about/")), "Location", "/about")
		wantBody(t, one(t, srv.Addr, get("/about")), aboutHTML)
		wantBody(t, one(t, srv.Addr, get("/")), rulesIndex)
	})
}

func (s *suite) errorPages(t *testing.T) {
	tree := s.treeRoot(t, rulesTree(t))
	srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, ErrorPages: map[int]string{404: "404.html", 403: "/403.html", 405: "errors/405.html"}}})
	for range 2 {
		r := one(t, srv.Addr, get("/missing"))
		wantStatus(t, r, 404)
		wantBody(t, r, page404)
		wantHeader(t, r, "Content-Type", "text/html; charset=utf-8")
		wantNoHeader(t, r, "ETag")
		wantNoHeader(t, r, "Last-Modified")
	}
	t.Run("NoValidators", func(t *testing.T) {
		g := one(t, srv.Addr, get("/404.html"))
		wantStatus(t, g, 200)
		r := one(t, srv.Addr, get("/missing", "If-None-Match: "+g.Header.Get("ETag")))
		wantStatus(t, r, 404)
		wantBody(t, r, page404)
	})
	t.Run("HEAD", func(t *testing.T) {
		r := one(t, srv.Addr, req("HEAD", "/missing"))
		wantStatus(t, r, 404)
		wantHeader(t, r, "Content-Length", fmt.Sprint(len(page404)))
	})
	t.Run("Forbidden", func(t *testing.T) {
		r := one(t, srv.Addr, get("/locked/"))
		wantStatus(t, r, 403)
		wantBody(t, r, page403)
	})
	t.Run("Method", func(t *testing.T) {
		r := one(t, srv.Addr, req("DELETE", "/"))
		wantStatus(t, r, 405)
		wantBody(t, r, page405)
		wantHeader(t, r, "Allow", "GET, HEAD, OPTIONS")
	})
	t.Run("Dotfile", func(t *testing.T) {
		wantBody(t, one(t, srv.Addr, get("/.env")), page404)
	})
	t.Run("BuiltInOtherwise", func(t *testing.T) {
		r := one(t, srv.Addr, get("/%00"))
		wantStatus(t, r, 400)
		if !strings.Contains(r.Body, "400 Bad Request") {
			t.Errorf("body %q", r.Body)
		}
	})
}

func (s *suite) spa(t *testing.T) {
	tree := s.treeRoot(t, rulesTree(t))
	srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, SPA: "index.html"}})
	const (
		navigate = "Sec-Fetch-Mode: navigate"
		htmlFrom = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	)
	for _, tc := range []struct {
		name, path string
		headers    []string
		status     int
	}{
		{"Navigate", "/settings/profile", []string{navigate, "Accept: */*"}, 200},
		{"NavigateSlash", "/users/42/", []string{navigate}, 200},
		{"AcceptHTML", "/settings", []string{htmlFrom}, 200},
		{"Fetch", "/settings", []string{"Accept: */*"}, 404},
		{"NoHeaders", "/settings", nil, 404},
		{"CORSModeWithHTML", "/settings", []string{"Sec-Fetch-Mode: cors", htmlFrom}, 404},
		{"MissingScript", "/app.js", []string{navigate, htmlFrom}, 404},
		{"MissingImage", "/assets/logo2.png", []string{"Sec-Fetch-Mode: no-cors", "Accept: image/avif,image/webp,*/*"}, 404},
		{"MissingImageNavigated", "/assets/logo2.png", []string{navigate}, 404},
		{"JSONPreferred", "/api/items", []string{"Accept: application/json, text/html;q=0.5"}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, srv.Addr, get(tc.path, tc.headers...))
			wantStatus(t, r, tc.status)
			if tc.status == 200 {
				wantBody(t, r, rulesIndex)
				wantHeader(t, r, "Content-Type", "text/html; charset=utf-8")
			}
		})
	}
	t.Run("FilesStillServed", func(t *testing.T) {
		r := one(t, srv.Addr, get("/assets/app.js", navigate))
		wantStatus(t, r, 200)
		wantHeader(t, r, "Content-Type", "text/javascript; charset=utf-8")
	})
}

// basic is an Authorization line.
func basic(user, pass string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// sameResponse fails unless a and b have the same status, fields (Date
// aside) and body.
func sameResponse(t *testing.T, what string, a, b *Resp) {
	t.Helper()
	strip := func(r *Resp) string {
		var kept []string
		for _, l := range strings.Split(r.Raw, "\r\n") {
			if !strings.HasPrefix(l, "Date: ") {
				kept = append(kept, l)
			}
		}
		return strings.Join(kept, "\r\n") + r.Body
	}
	if strip(a) != strip(b) {
		t.Errorf("%s differs:\n%s%s\nvs\n%s%s", what, a.Raw, a.Body, b.Raw, b.Body)
	}
}

// answers sends raw, n pipelined requests, on one connection and returns
// their n responses.
func answers(t *testing.T, addr, raw string, n int) []*Resp {
	t.Helper()
	c := send(t, addr, raw, 10*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	rs := make([]*Resp, n)
	for i := range rs {
		var err error
		if rs[i], err = readResp(br, "GET"); err != nil {
			t.Fatalf("response %d of %d pipelined requests: %v", i+1, n, err)
		}
	}
	return rs
}

func htpasswdFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "htpasswd")
	must(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return p
}

func bcryptLine(t *testing.T, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	must(t, err)
	return user + ":" + string(h)
}

func (s *suite) auth(t *testing.T) {
	tree := s.treeRoot(t, rulesTree(t))
	file := htpasswdFile(t, "# staff", bcryptLine(t, "alice", "wonderland"), bcryptLine(t, "bob", "builder"))
	srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, AuthFailures: -1, Auth: []site.AuthRule{
		{Prefix: "/admin", Htpasswd: file, Realm: "Staff only"},
		{Prefix: "/admin/public/"},
	}}})
	t.Run("Identical401s", func(t *testing.T) {
		none := one(t, srv.Addr, get("/admin/secret.txt"))
		wantStatus(t, none, 401)
		wantHeader(t, none, "WWW-Authenticate", `Basic realm="Staff only", charset="UTF-8"`)
		for what, h := range map[string]string{
			"wrong password":     basic("alice", "looking-glass"),
			"no such user":       basic("mallory", "wonderland"),
			"other's password":   basic("alice", "builder"),
			"empty":              basic("", ""),
			"malformed":          "Authorization: Basic %%%",
			"another scheme":     "Authorization: Bearer abc",
			"no colon":           "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice")),
			"user case differs":  basic("Alice", "wonderland"),
			"password truncated": basic("alice", "wonderlan"),
		} {
			r := one(t, srv.Addr, get("/admin/secret.txt", h))
			sameResponse(t, what, none, r)
		}
	})
	t.Run("Right", func(t *testing.T) {
		for range 2 { // the second from the remembered check
			r := one(t, srv.Addr, get("/admin/secret.txt", basic("alice", "wonderland")))
			wantStatus(t, r, 200)
			wantBody(t, r, secretTxt)
		}
		wantStatus(t, one(t, srv.Addr, get("/admin/secret.txt", basic("bob", "builder"))), 200)
		wantStatus(t, one(t, srv.Addr, get("/admin/", basic("bob", "builder"))), 403) // no index: the directory itself
	})
	t.Run("Spellings", func(t *testing.T) {
		for _, p := range []string{"/admin", "/admin/", "/adm%69n/secret.txt", "//admin//secret.txt", "/admin/x/../secret.txt", "/admin/missing"} {
			r := one(t, srv.Addr, get(p))
			if r.Status != 401 && r.Status != 400 {
				t.Errorf("%s: status %d without credentials", p, r.Status)
			}
		}
		r := one(t, srv.Addr, req("HEAD", "/admin/secret.txt"))
		wantStatus(t, r, 401)
		// Protected files are never answered from the cache.
		one(t, srv.Addr, get("/admin/secret.txt", basic("alice", "wonderland")))
		wantStatus(t, one(t, srv.Addr, get("/admin/secret.txt")), 401)
	})
	t.Run("Unprotected", func(t *testing.T) {
		wantStatus(t, one(t, srv.Addr, get("/admin/public/hello.txt")), 200)
		wantStatus(t, one(t, srv.Addr, get("/hello.txt")), 200)
		wantStatus(t, one(t, srv.Addr, get("/administrator")), 404)
	})
	t.Run("RateLimit", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, AuthFailures: 3, Auth: []site.AuthRule{{Prefix: "/", Htpasswd: file}}}})
		// On one connection: each worker of a prefork engine counts
		// failures on its own, as it enforces its limits.
		var raw string
		for i := range 3 {
			raw += get("/hello.txt", basic("alice", fmt.Sprint("guess", i)))
		}
		raw += get("/hello.txt", basic("alice", "wonderland")) + get("/hello.txt")
		rs := answers(t, srv.Addr, raw, 5)
		for i, want := range []int{401, 401, 401, 429, 429} {
			wantStatus(t, rs[i], want)
		}
		if rs[3].Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After\n%s", rs[3].Raw)
		}
	})
	t.Run("RefusedOnPlainHTTPBeyondLoopback", func(t *testing.T) {
		cfg := site.Config{Root: tree.Root, Origin: tree.Origin, Auth: []site.AuthRule{{Prefix: "/", Htpasswd: file}}}
		if err := cfg.CheckListen("127.0.0.1:8080", false); err != nil {
			t.Errorf("loopback: %v", err)
		}
		if err := cfg.CheckListen(":8080", false); err == nil {
			t.Errorf("every address over plain HTTP: accepted")
		}
		cfg.AllowInsecureAuth = true
		if err := cfg.CheckListen(":8080", false); err != nil {
			t.Errorf("allowed explicitly: %v", err)
		}
	})
}

func (s *suite) virtualHosts(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for dir, body := range map[string]string{a: "site a\n", b: "site b\n", c: "default\n"} {
		must(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "only-"+filepath.Base(dir)+".txt"), []byte(body), 0o644))
	}
	sites := []site.HostConfig{
		{Hosts: []string{"example.com", "www.example.com"}, Site: site.Config{Root: a}},
		{Hosts: []string{"*.example.org"}, Site: site.Config{Root: b, Security: true}},
	}
	srv := s.start(t, Options{Hosts: &site.HostsConfig{Sites: sites}})
	for _, tc := range []struct{ raw, body string }{
		{reqHost("GET", "/", "example.com"), "site a\n"},
		{reqHost("GET", "/", "EXAMPLE.com:8080"), "site a\n"},
		{reqHost("GET", "/", "www.example.com."), "site a\n"},
		{reqHost("GET", "/", "blog.example.org"), "site b\n"},
		{reqHost("GET", "/", "a.b.Example.ORG:443"), "site b\n"},
		{"GET http://example.com/ HTTP/1.1\r\nHost: elsewhere\r\n\r\n", "site a\n"},
	} {
		for range 2 { // the second from the site's cache
			r := one(t, srv.Addr, tc.raw)
			wantStatus(t, r, 200)
			wantBody(t, r, tc.body)
		}
	}
	if r := one(t, srv.Addr, reqHost("GET", "/", "blog.example.org")); r.Header.Get("X-Frame-Options") == "" {
		t.Errorf("site b's own rules not applied\n%s", r.Raw)
	}
	if r := one(t, srv.Addr, reqHost("GET", "/", "example.com")); r.Header.Get("X-Frame-Options") != "" {
		t.Errorf("site b's rules applied to site a\n%s", r.Raw)
	}
	// Each site serves its own root only.
	wantStatus(t, one(t, srv.Addr, reqHost("GET", "/only-"+filepath.Base(b)+".txt", "example.com")), 404)
	t.Run("Unknown", func(t *testing.T) {
		for _, raw := range []string{
			reqHost("GET", "/", "example.org"),
			reqHost("GET", "/", "evil.com"),
			reqHost("GET", "/", "example.com.evil.com"),
			"GET / HTTP/1.0\r\n\r\n",
		} {
			wantStatus(t, one(t, srv.Addr, raw), 421)
		}
	})
	t.Run("Unknown404", func(t *testing.T) {
		srv := s.start(t, Options{Hosts: &site.HostsConfig{Sites: sites, Unknown: 404}})
		wantStatus(t, one(t, srv.Addr, reqHost("GET", "/", "evil.com")), 404)
	})
	t.Run("Default", func(t *testing.T) {
		srv := s.start(t, Options{Hosts: &site.HostsConfig{Sites: append(sites[:2:2], site.HostConfig{Default: true, Site: site.Config{Root: c}})}})
		wantBody(t, one(t, srv.Addr, reqHost("GET", "/", "evil.com")), "default\n")
		wantBody(t, one(t, srv.Addr, "GET / HTTP/1.0\r\n\r\n"), "default\n")
		wantBody(t, one(t, srv.Addr, reqHost("GET", "/", "example.com")), "site a\n")
	})
}

func (s *suite) symlinks(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   map[string]int
	}{
		{"", map[string]int{"/link-in.txt": 200, "/link-out.txt": 404, "/dir-out/secret.txt": 404, "/dir/sub/up.txt": 200, "/hello.txt": 200}},
		{site.SymlinksFollow, map[string]int{"/link-in.txt": 200, "/link-out.txt": 200, "/dir-out/secret.txt": 200, "/dir/sub/up.txt": 200, "/dir-out/../hello.txt": 400}},
		{site.SymlinksDeny, map[string]int{"/link-in.txt": 404, "/link-out.txt": 404, "/dir-out/secret.txt": 404, "/dir/sub/up.txt": 404, "/hello.txt": 200, "/dir/sub/file.txt": 200}},
	} {
		t.Run("Policy="+tc.policy, func(t *testing.T) {
			srv := s.start(t, Options{Site: site.Config{Root: s.root, Symlinks: tc.policy}})
			for p, want := range tc.want {
				for range 2 {
					r := one(t, srv.Addr, get(p))
					if r.Status != want {
						t.Errorf("%s: status %d, want %d", p, r.Status, want)
					}
					if want == 200 && p == "/link-out.txt" && r.Body != "outside\n" {
						t.Errorf("%s: body %q", p, r.Body)
					}
				}
			}
		})
	}
}

// records is an access log sink that keeps the client of each record.
type records struct {
	mu      sync.Mutex
	clients []netip.Addr
}

func (r *records) Log(rec *http1.Record) {
	r.mu.Lock()
	r.clients = append(r.clients, rec.Remote.Addr())
	r.mu.Unlock()
}

// nth waits for the n-th record and returns its client.
func (r *records) nth(t *testing.T, n int) netip.Addr {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		if len(r.clients) >= n {
			a := r.clients[n-1]
			r.mu.Unlock()
			return a
		}
		r.mu.Unlock()
	}
	t.Fatalf("no record %d", n)
	return netip.Addr{}
}

func (s *suite) trustedProxies(t *testing.T) {
	tree := s.treeRoot(t, rulesTree(t))
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	t.Run("Log", func(t *testing.T) {
		log := &records{}
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, TrustedProxies: trusted}, Engine: engine.Config{Log: log}})
		n := 0
		for _, tc := range []struct {
			header string
			want   string
		}{
			{"", "127.0.0.1"},
			{"X-Forwarded-For: 203.0.113.7", "203.0.113.7"},
			{"X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7"}, // the rightmost untrusted
			{"X-Forwarded-For: 10.9.9.9, 10.1.2.3", "10.9.9.9"},                     // all trusted: the leftmost
			{"X-Forwarded-For: garbage, 203.0.113.9", "203.0.113.9"},
			{"X-Forwarded-For: 203.0.113.9:4711", "203.0.113.9"},
			// The proxy appends X-Forwarded-For and passes the client's Forwarded through.
			{"Forwarded: for=203.0.113.66\r\nX-Forwarded-For: 203.0.113.7", "203.0.113.7"},
			{"Forwarded: for=203.0.113.66", "127.0.0.1"},
		} {
			for _, p := range []string{"/hello.txt", "/missing"} { // from the cache, and not
				var h []string
				if tc.header != "" {
					h = append(h, tc.header)
				}
				one(t, srv.Addr, get(p, h...))
				n++
				if got := log.nth(t, n); got.String() != tc.want {
					t.Errorf("%s %q: client %s, want %s", p, tc.header, got, tc.want)
				}
			}
		}
	})
	t.Run("ForwardedHeader", func(t *testing.T) {
		log := &records{}
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, TrustedProxies: trusted, TrustedProxyHeader: site.ProxyHeaderForwarded},
			Engine: engine.Config{Log: log}})
		for i, tc := range []struct {
			header string
			want   string
		}{
			{`Forwarded: for="[2001:db8::1]:4711";proto=https, for=10.0.0.1`, "2001:db8::1"},
			{"Forwarded: for=unknown", "127.0.0.1"},
			{"X-Forwarded-For: 203.0.113.7", "127.0.0.1"}, // not the header configured
		} {
			one(t, srv.Addr, get("/hello.txt", tc.header))
			if got := log.nth(t, i+1); got.String() != tc.want {
				t.Errorf("%q: client %s, want %s", tc.header, got, tc.want)
			}
		}
	})
	t.Run("UntrustedPeer", func(t *testing.T) {
		log := &records{}
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, TrustedProxies: trusted[1:]}, Engine: engine.Config{Log: log}})
		one(t, srv.Addr, get("/hello.txt", "X-Forwarded-For: 203.0.113.7"))
		if got := log.nth(t, 1); got.String() != "127.0.0.1" {
			t.Errorf("client %s from a peer not trusted", got)
		}
	})
	t.Run("RateLimitPerClient", func(t *testing.T) {
		file := htpasswdFile(t, bcryptLine(t, "alice", "wonderland"))
		srv := s.start(t, Options{Site: site.Config{Root: tree.Root, Origin: tree.Origin, TrustedProxies: trusted, AuthFailures: 2,
			Auth: []site.AuthRule{{Prefix: "/", Htpasswd: file}}}})
		const a, b = "X-Forwarded-For: 203.0.113.1", "X-Forwarded-For: 203.0.113.2"
		raw := get("/hello.txt", a, basic("alice", "x")) + get("/hello.txt", a, basic("alice", "x")) +
			get("/hello.txt", a, basic("alice", "wonderland")) + get("/hello.txt", b, basic("alice", "wonderland"))
		for i, r := range answers(t, srv.Addr, raw, 4) { // on one connection: see Auth/RateLimit
			wantStatus(t, r, []int{401, 401, 429, 200}[i])
		}
	})
}
