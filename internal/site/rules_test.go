package site

import (
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/weft-server/weft/internal/http1"
)

func bcryptHash(t testing.TB, pass string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestParseHtpasswd(t *testing.T) {
	good := bcryptHash(t, "pw")
	for _, tc := range []struct {
		name, text, err string
	}{
		{"Bcrypt", "# users\n\nalice:" + good + "\n  bob:" + strings.Replace(good, "$2a$", "$2y$", 1) + "  \n", ""},
		{"Plaintext", "alice:" + good + "\nbob:hunter2\n", "f:2: user \"bob\" has a plaintext password or an unknown hash: only bcrypt"},
		{"SHA", "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "f:1: user \"alice\" has a SHA-1 ({SHA}) hash"},
		{"APR1", "alice:$apr1$abcdefgh$0123456789abcdefghijkl\n", "f:1: user \"alice\" has an Apache MD5 ($apr1$) hash"},
		{"MD5Crypt", "alice:$1$abcdefgh$0123456789abcdefghijkl\n", "MD5-crypt ($1$)"},
		{"SHACrypt", "alice:$6$salt$hash\n", "SHA-crypt ($6$)"},
		{"DES", "#\nalice:rl0uE9ANNAJ2.\n", "f:2: user \"alice\" has a crypt(3) DES hash"},
		{"MalformedBcrypt", "alice:$2y$10$short\n", "f:1: user \"alice\": malformed bcrypt hash"},
		{"NoColon", "alice\n", "f:1: want user:hash"},
		{"EmptyUser", ":" + good + "\n", "f:1: want user:hash"},
		{"Twice", "alice:" + good + "\nalice:" + good + "\n", "f:2: user \"alice\" given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseHtpasswd("f", []byte(tc.text))
			if tc.err == "" {
				if err != nil || len(h.users) == 0 {
					t.Fatalf("%v, %d users", err, len(h.users))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one with %q", err, tc.err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "W6ph5") {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestHtpasswdCheck(t *testing.T) {
	h, err := parseHtpasswd("f", []byte("alice:"+bcryptHash(t, "wonderland")+"\nbob:"+bcryptHash(t, "builder")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{
		{"alice", "wonderland", true},
		{"alice", "wonderland", true}, // remembered
		{"alice", "builder", false},
		{"bob", "builder", true},
		{"carol", "wonderland", false}, // compared with a real hash, and still refused
		{"carol", "builder", false},
		{"", "", false},
	} {
		if got := h.check(tc.user, tc.pass); got != tc.ok {
			t.Errorf("%s:%s: %v, want %v", tc.user, tc.pass, got, tc.ok)
		}
	}
	empty, err := parseHtpasswd("f", []byte("# nobody yet\n"))
	if err != nil || empty.dummy == nil || empty.check("x", "y") {
		t.Fatalf("empty file: %v, dummy %q", err, empty.dummy)
	}
}

func TestBasicCredentials(t *testing.T) {
	enc := func(s string) []byte { return []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(s))) }
	for _, tc := range []struct {
		h          []byte
		user, pass string
		ok         bool
	}{
		{enc("alice:pw"), "alice", "pw", true},
		{enc("alice:p:w"), "alice", "p:w", true},
		{[]byte("basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))), "a", "b", true},
		{enc("alice"), "", "", false},
		{[]byte("Basic !!!"), "", "", false},
		{[]byte("Bearer x"), "", "", false},
		{nil, "", "", false},
	} {
		u, p, ok := basicCredentials(tc.h)
		if u != tc.user || p != tc.pass || ok != tc.ok {
			t.Errorf("%q: %q %q %v", tc.h, u, p, ok)
		}
	}
}

func TestAuthZones(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "htpasswd")
	os.WriteFile(file, []byte("alice:"+bcryptHash(t, "pw")+"\n"), 0o600)
	a, err := compileAuth([]AuthRule{{Prefix: "/", Htpasswd: file}, {Prefix: "/public/"}, {Prefix: "/public/private", Htpasswd: file}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"/": true, "/x": true, "/public": false, "/public/": false, "/public/a": false,
		"/publicity": true, "/public/private": true, "/public/private/x": true, "/public/privateer": false,
	} {
		if got := a.covers(p); got != want {
			t.Errorf("%s: covered %v, want %v", p, got, want)
		}
	}
	for _, bad := range []AuthRule{{Prefix: "admin"}, {Prefix: "/a//b"}, {Prefix: "/a/../b"}, {Prefix: "/a%2e"}, {Prefix: "/x", Htpasswd: file, Realm: `a"b`}, {Prefix: "/x", Htpasswd: filepath.Join(dir, "missing")}} {
		if _, err := compileAuth([]AuthRule{bad}, 0); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestAuthRateLimit(t *testing.T) {
	a := &authRules{limit: 2, window: 60e9, fails: map[netip.Addr]*failures{}}
	now := time.Now()
	x := clientKey(netip.MustParseAddr("2001:db8::1"))
	y := clientKey(netip.MustParseAddr("2001:db8::2")) // the same /64
	a.failed(x, now)
	if a.blocked(y, now) != 0 {
		t.Fatal("blocked after one failure")
	}
	a.failed(y, now)
	if a.blocked(x, now) == 0 {
		t.Fatal("not blocked after two failures in the same /64")
	}
	if a.blocked(x, now.Add(61e9)) != 0 {
		t.Fatal("still blocked after the window")
	}
}

func TestCheckListen(t *testing.T) {
	cfg := Config{Root: "/srv", Auth: []AuthRule{{Prefix: "/", Htpasswd: "x"}}}
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true, "localhost:8080": true, "127.5.5.5:1": true,
		":80": false, "0.0.0.0:80": false, "[::]:80": false, "192.0.2.1:80": false, "example.com:80": false, "garbage": false,
	} {
		if err := cfg.CheckListen(addr, false); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
		if err := cfg.CheckListen(addr, true); err != nil && addr != "garbage" {
			t.Errorf("%s over TLS: %v", addr, err)
		}
	}
	open := Config{Auth: []AuthRule{{Prefix: "/public/"}}}
	if err := open.CheckListen(":80", false); err != nil {
		t.Errorf("no credentials asked: %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"HeaderContentLength": {Headers: []HeaderRule{{For: "/**", Set: map[string]string{"Content-Length": "1"}}}},
		"HeaderAddLastMod":    {Headers: []HeaderRule{{For: "/**", Add: map[string]string{"Last-Modified": "x"}}}},
		"HeaderAddCC":         {Headers: []HeaderRule{{For: "/**", Add: map[string]string{"Cache-Control": "x"}}}},
		"HeaderCORS":          {Headers: []HeaderRule{{For: "/**", Set: map[string]string{"Access-Control-Allow-Origin": "*"}}}},
		"HeaderHSTS":          {Headers: []HeaderRule{{For: "/**", Set: map[string]string{"Strict-Transport-Security": "max-age=1"}}}},
		"HeaderCRLF":          {Headers: []HeaderRule{{For: "/**", Set: map[string]string{"X-A": "a\r\nX-B: b"}}}},
		"HeaderName":          {Headers: []HeaderRule{{For: "/**", Set: map[string]string{"X A": "a"}}}},
		"HeaderGlob":          {Headers: []HeaderRule{{For: "/[", Set: map[string]string{"X-A": "a"}}}},
		"CORSNoOrigins":       {CORS: &CORS{}},
		"CORSStarCreds":       {CORS: &CORS{Origins: []string{"*"}, Credentials: true}},
		"CORSStarAndList":     {CORS: &CORS{Origins: []string{"*", "https://a.example"}}},
		"CORSOriginPath":      {CORS: &CORS{Origins: []string{"https://a.example/x"}}},
		"CORSHeadersStar":     {CORS: &CORS{Origins: []string{"https://a.example"}, Credentials: true, Headers: []string{"*"}}},
		"RedirectStatus":      {Redirects: []Redirect{{From: "/a", To: "/b", Status: 303}}},
		"RedirectSplat":       {Redirects: []Redirect{{From: "/a/*/b", To: "/c/:splat"}}},
		"RedirectProtoRel":    {Redirects: []Redirect{{From: "/a", To: "//evil.example/"}}},
		"RedirectRelative":    {Redirects: []Redirect{{From: "/a", To: "b"}}},
		"RewriteURL":          {Redirects: []Redirect{{From: "/a", To: "https://x.example/", Status: 200}}},
		"RedirectCRLF":        {Redirects: []Redirect{{From: "/a", To: "/b\r\nX: y"}}},
		"TrailingSlash":       {TrailingSlash: "sometimes"},
		"ErrorPageStatus":     {ErrorPages: map[int]string{200: "ok.html"}},
		"ErrorPageEscape":     {ErrorPages: map[int]string{404: "../404.html"}},
		"SPADotfile":          {SPA: ".app.html"},
		"Symlinks":            {Symlinks: "sometimes"},
		"TrustedProxies":      {TrustedProxies: []netip.Prefix{{}}},
		"TrustedProxyHeader":  {TrustedProxyHeader: "x-real-ip"},
		"HSTS":                {HSTS: "max-age=1\r\n"},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := Config{
		Headers:    []HeaderRule{{For: "/**", Set: map[string]string{"Cache-Control": "no-store"}, Remove: []string{"Last-Modified"}}},
		CORS:       &CORS{Origins: []string{"https://a.example", "http://localhost:3000"}, Headers: []string{"X-Token"}},
		Redirects:  []Redirect{{From: "/a/**", To: "https://b.example/:splat", Status: 308}, {From: "*.php", To: "/"}},
		ErrorPages: map[int]string{404: "/errors/404.html"}, SPA: "index.html", Symlinks: SymlinksFollow,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid rules refused: %v", err)
	}
}

func TestOpenChecksFiles(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "index.html"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(root, "dir"), 0o755)
	for _, cfg := range []Config{
		{Root: root, ErrorPages: map[int]string{404: "404.html"}},
		{Root: root, ErrorPages: map[int]string{404: "dir"}},
		{Root: root, SPA: "app.html"},
	} {
		if st, err := Open(cfg); err == nil {
			st.Close()
			t.Errorf("%+v opened", cfg)
		}
	}
	st, err := Open(Config{Root: root, SPA: "index.html", ErrorPages: map[int]string{500: "index.html"}})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

func TestPrefersHTML(t *testing.T) {
	for h, want := range map[string]bool{
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": true,
		"text/html": true, "TEXT/HTML;q=0.5, */*;q=0.5": true,
		"*/*": false, "": false, "image/avif,image/webp,*/*": false,
		"application/json, text/html;q=0.5": false, "text/html;q=0": false, "text/html;q=abc, */*;q=0.1": false,
		"text/html;q=1.5": false,
	} {
		if got := prefersHTML([]byte(h)); got != want {
			t.Errorf("%q: %v, want %v", h, got, want)
		}
	}
}

func parseRequest(t *testing.T, raw string) *http1.Request {
	t.Helper()
	req := &http1.Request{}
	if _, err := req.Parse([]byte(raw), http1.DefaultLimits); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return req
}

func TestForwardedClient(t *testing.T) {
	const xff, fwd = ProxyHeaderXForwardedFor, ProxyHeaderForwarded
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		header, peer, headers, want string
	}{
		{xff, "10.0.0.1:1", "X-Forwarded-For: 192.0.2.1\r\n", "192.0.2.1"},
		{xff, "10.0.0.1:1", "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 198.51.100.2, 10.0.0.9\r\n", "198.51.100.2"},
		{xff, "10.0.0.1:1", "X-Forwarded-For: [2001:db8::5]:80\r\n", "2001:db8::5"},
		{xff, "10.0.0.1:1", "X-Forwarded-For: ::ffff:192.0.2.1\r\n", "192.0.2.1"},
		// Only the configured header is read: the other is the client's.
		{xff, "10.0.0.1:1", "X-Forwarded-For: 192.0.2.1\r\nForwarded: for=198.51.100.3\r\n", "192.0.2.1"},
		{xff, "10.0.0.1:1", "Forwarded: for=198.51.100.3\r\n", ""},
		{fwd, "10.0.0.1:1", "X-Forwarded-For: 192.0.2.1\r\nForwarded: for=198.51.100.3\r\n", "198.51.100.3"},
		{fwd, "10.0.0.1:1", "X-Forwarded-For: 192.0.2.1\r\n", ""},
		{fwd, "10.0.0.1:1", `Forwarded: For="[2001:db8::7]"` + "\r\n", "2001:db8::7"},
		{fwd, "10.0.0.1:1", "Forwarded: for=_hidden, for=10.0.0.3\r\n", "10.0.0.3"},
		{xff, "10.0.0.1:1", "X-Forwarded-For: fe80::1%eth0\r\n", ""},
		{xff, "10.0.0.1:1", "", ""},
		{xff, "192.0.2.50:1", "X-Forwarded-For: 198.51.100.1\r\n", ""}, // the peer is not trusted
		{xff, "[fd00::1]:1", "X-Forwarded-For: 198.51.100.1\r\n", "198.51.100.1"},
	} {
		s := &Site{trusted: trusted, proxyHdr: tc.header}
		req := parseRequest(t, "GET / HTTP/1.1\r\nHost: x\r\n"+tc.headers+"\r\n")
		req.Remote = netip.MustParseAddrPort(tc.peer)
		resp := &http1.Response{}
		s.noteClient(req, resp)
		got := ""
		if resp.Client.IsValid() {
			got = resp.Client.String()
		}
		if got != tc.want {
			t.Errorf("%s, peer %s, %q: client %q, want %q", tc.header, tc.peer, tc.headers, got, tc.want)
		}
	}
	for _, h := range []string{"", "X-Forwarded-For", "Forwarded"} {
		if _, err := checkProxyHeader(h); err != nil {
			t.Errorf("%q: %v", h, err)
		}
	}
	if _, err := checkProxyHeader("X-Real-IP"); err == nil {
		t.Error("X-Real-IP accepted")
	}
}

func TestHostName(t *testing.T) {
	var space [maxHost]byte
	for in, want := range map[string]string{
		"Example.COM": "example.com", "example.com:8080": "example.com", "example.com.": "example.com",
		"[::1]:80": "[::1]", "[::1]": "[::1]", "": "", ":80": "", strings.Repeat("a", 300): "",
	} {
		if got := string(hostName(space[:0], []byte(in))); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	h := &Hosts{exact: map[string]*Site{"a.example.org": {}}, wild: []wildHost{{".b.example.org", &Site{}}, {".example.org", &Site{}}}}
	for host, want := range map[string]*Site{
		"a.example.org": h.exact["a.example.org"], "x.b.example.org": h.wild[0].site, "b.example.org": h.wild[1].site,
		"z.a.example.org": h.wild[1].site, "example.org": nil, "xexample.org": nil,
	} {
		if got := h.pick([]byte(host)); got != want {
			t.Errorf("%s: picked the wrong site", host)
		}
	}
	if testing.AllocsPerRun(100, func() { h.pick([]byte("X.B.Example.org:443")) }) != 0 {
		t.Error("picking a site allocates")
	}
}

func TestOpenHostsErrors(t *testing.T) {
	root := t.TempDir()
	for name, cfg := range map[string]HostsConfig{
		"None":        {},
		"NoHosts":     {Sites: []HostConfig{{Site: Config{Root: root}}}},
		"Duplicate":   {Sites: []HostConfig{{Hosts: []string{"a.example"}, Site: Config{Root: root}}, {Hosts: []string{"A.example."}, Site: Config{Root: root}}}},
		"TwoDefaults": {Sites: []HostConfig{{Default: true, Site: Config{Root: root}}, {Default: true, Site: Config{Root: root}}}},
		"Port":        {Sites: []HostConfig{{Hosts: []string{"a.example:80"}, Site: Config{Root: root}}}},
		"MidWildcard": {Sites: []HostConfig{{Hosts: []string{"a.*.example"}, Site: Config{Root: root}}}},
		"Unknown":     {Sites: []HostConfig{{Hosts: []string{"a.example"}, Site: Config{Root: root}}}, Unknown: 400},
		"BadSite":     {Sites: []HostConfig{{Hosts: []string{"a.example"}, Site: Config{Root: filepath.Join(root, "missing")}}}},
	} {
		if h, err := OpenHosts(cfg); err == nil {
			h.Close()
			t.Errorf("%s: opened", name)
		}
		if err := cfg.Validate(); err == nil && name != "BadSite" { // a missing root shows at Open
			t.Errorf("%s: valid", name)
		}
	}
}

// TestHSTSOverTLSOnly: the preset's Strict-Transport-Security goes only
// to requests a TLS front marked as such, cached or not.
func TestHSTSOverTLSOnly(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "index.html"), []byte("x"), 0o644)
	st, err := Open(Config{Root: root, Security: true, HSTS: "max-age=63072000; includeSubDomains"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tls := range []bool{false, true, false, true} {
		for _, path := range []string{"/", "/missing"} {
			req := parseRequest(t, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			req.TLS = tls
			resp := &http1.Response{}
			if !st.ServeFromMemory(req, resp) {
				st.ServeHTTP1(req, resp)
			}
			head := string(resp.Fixed.Text) + string(resp.Header.Text)
			if got := strings.Contains(head, "Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n"); got != tls {
				t.Errorf("%s over TLS %v: HSTS %v\n%s", path, tls, got, head)
			}
			if !strings.Contains(head, "X-Content-Type-Options: nosniff\r\n") {
				t.Errorf("%s: no preset\n%s", path, head)
			}
			if resp.Closer != nil {
				resp.Closer.Close()
			}
		}
	}
}

// TestSymlinksWithoutOpenat2: the policies hold where os.Root is used
// (other systems, or Linux without openat2).
func TestSymlinksWithoutOpenat2(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges")
	}
	root, outside := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "in.txt"), []byte("in"), 0o644)
	os.WriteFile(filepath.Join(outside, "out.txt"), []byte("out"), 0o644)
	os.Symlink("in.txt", filepath.Join(root, "link-in.txt"))
	os.Symlink(filepath.Join(outside, "out.txt"), filepath.Join(root, "link-out.txt"))
	os.Symlink(outside, filepath.Join(root, "dir-out"))
	for _, tc := range []struct {
		policy string
		ok     map[string]bool
	}{
		{"", map[string]bool{"in.txt": true, "link-in.txt": true, "link-out.txt": false, "dir-out/out.txt": false}},
		{SymlinksFollow, map[string]bool{"in.txt": true, "link-in.txt": true, "link-out.txt": true, "dir-out/out.txt": true}},
		{SymlinksDeny, map[string]bool{"in.txt": true, "link-in.txt": false, "link-out.txt": false, "dir-out/out.txt": false}},
	} {
		st, err := Open(Config{Root: root, Symlinks: tc.policy})
		if err != nil {
			t.Fatal(err)
		}
		if st.rootDir != nil {
			st.rootDir.Close()
			st.rootDir = nil // as where openat2 is missing
		}
		for name, want := range tc.ok {
			f, err := st.openFile(name)
			if f != nil {
				f.Close()
			}
			if (err == nil) != want {
				t.Errorf("policy %q: %s: %v", tc.policy, name, err)
			}
			if _, err := st.stat(name); (err == nil) != want {
				t.Errorf("policy %q: stat %s: %v", tc.policy, name, err)
			}
		}
		st.Close()
	}
}

// TestAuthServedFileFromMemory: once a protected index or clean URL's page
// is cached (by a request with credentials), the memory path still sends
// the request without them to the rules.
func TestAuthServedFileFromMemory(t *testing.T) {
	root := review9Tree(t, map[string]string{"secret.html": "secret", "docs/index.html": "docs", "index.html": "home"})
	cfg := Config{CleanURLs: true}
	file := review9Htpasswd(t)
	for _, name := range []string{"/secret.html", "/docs/index.html", "/index.html"} { // each file by its own name
		cfg.Auth = append(cfg.Auth, AuthRule{Prefix: name, Htpasswd: file})
	}
	st := review9Open(t, root, cfg)
	good := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:wonderland")) + "\r\n"
	for _, p := range []string{"/secret", "/docs/", "/"} {
		for _, tc := range []struct {
			header string
			want   int
		}{{good, 200}, {good, 200}, {"", 401}} {
			if status, head, _ := review9Serve(t, st, "GET "+p+" HTTP/1.1\r\nHost: x\r\n"+tc.header+"\r\n", ""); status != tc.want {
				t.Errorf("GET %s (credentials %t): %d, want %d\n%s", p, tc.header != "", status, tc.want, head)
			}
		}
	}
	if testing.AllocsPerRun(100, func() { st.slowPath("/assets/app.js", false) }) != 0 {
		t.Error("slowPath allocates")
	}
}

// TestErrorPageUnderAuth: an error page an auth rule protects is refused,
// one exempted from it by a rule without htpasswd accepted.
func TestErrorPageUnderAuth(t *testing.T) {
	file := review9Htpasswd(t)
	pages := map[int]string{404: "errors/404.html"}
	if err := (Config{Auth: []AuthRule{{Prefix: "/", Htpasswd: file}}, ErrorPages: pages}).Validate(); err == nil {
		t.Error("a protected error page accepted")
	}
	if err := (Config{Auth: []AuthRule{{Prefix: "/", Htpasswd: file}, {Prefix: "/errors"}}, ErrorPages: pages}).Validate(); err != nil {
		t.Errorf("an exempted error page: %v", err)
	}
}

// TestRedirectTarget: the splat is encoded as a path before "?", as a
// query component after it.
func TestRedirectTarget(t *testing.T) {
	for _, tc := range []struct{ to, splat, want string }{
		{"/new/:splat", "a b/c&d=e", "/new/a%20b/c&d=e"},
		{"/search?q=:splat", "a&admin=1", "/search?q=a%26admin%3D1"},
		{"/search?q=:splat", "a+b;c/d", "/search?q=a%2Bb%3Bc%2Fd"},
		{"https://x.example/:splat?from=:splat", "p/q?", "https://x.example/p/q%3F?from=p%2Fq%3F"},
		{"/plain", "ignored", "/plain"},
	} {
		rs, err := compileRedirects([]Redirect{{From: "/x/**", To: tc.to}})
		if err != nil {
			t.Fatal(err)
		}
		if got := rs[0].target(tc.splat); got != tc.want {
			t.Errorf("%s with %q: %q, want %q", tc.to, tc.splat, got, tc.want)
		}
	}
}

// TestRedirectLoops: a redirect its own From matches again first, with
// the same splat, is refused; one an earlier rule catches, a rewrite, or
// one whose splat changes is not.
func TestRedirectLoops(t *testing.T) {
	for _, tc := range []struct {
		rs    []Redirect
		loops bool
	}{
		{[]Redirect{{From: "/a", To: "/a"}}, true},
		{[]Redirect{{From: "/a/", To: "/a/?x=1"}}, true},
		{[]Redirect{{From: "/blog/**", To: "/blog/:splat", Status: 308}}, true},
		{[]Redirect{{From: "*.php", To: "/index.php"}}, true},
		{[]Redirect{{From: "/old/new", To: "/elsewhere"}, {From: "/old/**", To: "/old/new"}}, false},
		{[]Redirect{{From: "/a", To: "/a", Status: 200}}, false},
		{[]Redirect{{From: "/a", To: "https://other.example/a"}}, false},
		{[]Redirect{{From: "/blog/*", To: "/blog/x/:splat"}}, false},
		{[]Redirect{{From: "/a", To: "/b"}}, false},
	} {
		_, err := compileRedirects(tc.rs)
		if (err != nil) != tc.loops {
			t.Errorf("%+v: error %v, want a loop %t", tc.rs, err, tc.loops)
		}
	}
}
