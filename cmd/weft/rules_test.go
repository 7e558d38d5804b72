//go:build linux

package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/weft-server/weft/internal/conformance"
)

// serveRules runs `weft serve` in dir with env and args, its standard
// output a pipe of its own.
func serveRules(t *testing.T, dir string, env []string, args ...string) *started {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := startServeIn(t, dir, env, pr, pw, nil, append([]string{"--no-access-log"}, args...)...)
	pr.Close()
	return s
}

// ask sends the raw request lines (a request line, then header lines) to
// addr on a new connection and returns the response.
func ask(t *testing.T, addr string, lines ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, strings.Join(lines, "\r\n")+"\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, _, err := conformance.ReadResponse(bufio.NewReader(c))
	if err != nil {
		t.Fatalf("%s: %v after %q", lines[0], err, raw)
	}
	return raw
}

func statusOf(raw string) string {
	line, _, _ := strings.Cut(raw, "\r\n")
	_, status, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(status, " ")
	return code
}

func bodyOf(raw string) string {
	_, body, _ := strings.Cut(raw, "\r\n\r\n")
	return body
}

// writeTree writes files (path → content) beneath dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, body)
	}
}

// htpasswdLine is an htpasswd line for user with a bcrypt hash of pass.
func htpasswdLine(t *testing.T, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + string(h) + "\n"
}

func basicAuth(user, pass string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// ruleCheck is one request and what its response must hold.
type ruleCheck struct {
	lines   []string          // request line and header lines
	status  string            // the status code
	headers map[string]string // header values ("" for absent)
	body    string            // the body, when not ""
}

func (rc ruleCheck) run(t *testing.T, addr string) {
	t.Helper()
	raw := ask(t, addr, rc.lines...)
	if got := statusOf(raw); got != rc.status {
		t.Errorf("%s %v: status %s, want %s\n%s", rc.lines[0], rc.lines[1:], got, rc.status, raw)
	}
	for name, want := range rc.headers {
		if got := header(raw, name); got != want {
			t.Errorf("%s %v: %s %q, want %q\n%s", rc.lines[0], rc.lines[1:], name, got, want, raw)
		}
	}
	if rc.body != "" && bodyOf(raw) != rc.body {
		t.Errorf("%s %v: body %q, want %q", rc.lines[0], rc.lines[1:], bodyOf(raw), rc.body)
	}
}

// TestRulesFromTheFile: every kind of rule table in a weft.toml with two
// [[site]] virtual hosts, over real sockets: the first site inherits the
// top-level rules, the second (the default) has its own root and header
// rules.
func TestRulesFromTheFile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"site/index.html":       "the app\n",
		"site/assets/app.js":    "js\n",
		"site/hello.txt":        "hello\n",
		"site/404.html":         "lost in a\n",
		"site/admin/secret.txt": "secret\n",
		"other/index.html":      "other app\n",
		"other/hello.txt":       "other hello\n",
		"other/404.html":        "lost in b\n",
		"staff.htpasswd":        htpasswdLine(t, "alice", "wonderland"),
	})
	writeFile(t, filepath.Join(dir, "weft.toml"), `root = "site"       # the sites' unless they set theirs
spa = "index.html"

[[headers]]
for = "/assets/**"
set = { "Cache-Control" = "public, max-age=31536000, immutable", X-Asset = "yes" }

[[redirects]]
from = "/old/*"
to = "/new/:splat"
status = 308

[cors]
origins = ["https://app.example"]
max_age = 600

[[auth]]
prefix = "/admin"
htpasswd = "staff.htpasswd"
realm = "Staff only"

[error_pages]
404 = "404.html"

[[site]]
hosts = ["a.example", "www.a.example"]

[[site]]
hosts = ["*.b.example"]
default = true
root = "other"

[[site.headers]]
for = "*.txt"
set = { X-Site = "b" }
`)
	s := serveRules(t, dir, nil, "--engine", "goroutine")
	get := func(host, path string, extra ...string) []string {
		return append([]string{"GET " + path + " HTTP/1.1", "Host: " + host}, extra...)
	}
	const origin = "Origin: https://app.example"
	for _, rc := range []ruleCheck{
		// headers
		{lines: get("a.example", "/assets/app.js"), status: "200", headers: map[string]string{"Cache-Control": "public, max-age=31536000, immutable", "X-Asset": "yes"}, body: "js\n"},
		{lines: get("a.example", "/hello.txt"), status: "200", headers: map[string]string{"X-Asset": "", "X-Site": ""}},
		// redirects
		{lines: get("a.example", "/old/post?x=1"), status: "308", headers: map[string]string{"Location": "/new/post?x=1"}},
		// cors
		{lines: get("a.example", "/hello.txt", origin), status: "200", headers: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Vary": "Origin"}},
		{lines: get("a.example", "/hello.txt", "Origin: https://evil.example"), status: "200", headers: map[string]string{"Access-Control-Allow-Origin": ""}},
		{lines: []string{"OPTIONS /hello.txt HTTP/1.1", "Host: a.example", origin, "Access-Control-Request-Method: GET"}, status: "204",
			headers: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Max-Age": "600"}},
		// auth
		{lines: get("a.example", "/admin/secret.txt"), status: "401", headers: map[string]string{"WWW-Authenticate": `Basic realm="Staff only", charset="UTF-8"`}},
		{lines: get("a.example", "/admin/secret.txt", basicAuth("alice", "looking-glass")), status: "401"},
		{lines: get("a.example", "/admin/secret.txt", basicAuth("alice", "wonderland")), status: "200", body: "secret\n"},
		// error pages and the SPA fallback
		{lines: get("a.example", "/missing.txt"), status: "404", body: "lost in a\n"},
		{lines: get("a.example", "/settings/profile", "Accept: text/html"), status: "200", body: "the app\n"},
		{lines: get("a.example", "/missing.js", "Accept: text/html"), status: "404", body: "lost in a\n"},
		// the second site: its root, its header rules instead of the top level's
		{lines: get("x.b.example", "/hello.txt"), status: "200", headers: map[string]string{"X-Site": "b"}, body: "other hello\n"},
		{lines: get("x.b.example", "/missing.txt"), status: "404", body: "lost in b\n"},
		{lines: get("x.b.example", "/page", "Sec-Fetch-Mode: navigate"), status: "200", body: "other app\n"},
		{lines: get("X.B.Example:8080", "/hello.txt"), status: "200", body: "other hello\n"},
		// the default site answers unknown hosts
		{lines: get("unknown.example", "/hello.txt"), status: "200", body: "other hello\n"},
		{lines: get("www.a.example", "/hello.txt"), status: "200", body: "hello\n"},
	} {
		rc.run(t, s.addr)
	}
}

// TestRuleFlags: --header, --cors, --spa, --basic-auth and --error-page
// serve, and the SPA fallback comes from the file, WEFT_SPA or --spa by
// precedence.
func TestRuleFlags(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"site/file.html": "from the file\n",
		"site/env.html":  "from the environment\n",
		"site/flag.html": "from the flag\n",
		"site/hello.txt": "hello\n",
		"site/gone.html": "gone\n",
		"site.htpasswd":  htpasswdLine(t, "alice", "wonderland"),
		// The error page is exempt from the whole-site authentication
		// (an error page behind it is refused at start).
		"weft.toml":       "root = \"site\"\nspa = \"file.html\"\n\n[[auth]]\nprefix = \"/gone.html\"\n",
		"site/index.html": "index\n",
	})
	auth := basicAuth("alice", "wonderland")
	nav := func(path string) []string {
		return []string{"GET " + path + " HTTP/1.1", "Host: t", "Sec-Fetch-Mode: navigate", auth}
	}
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, nil, "from the file\n"},
		{[]string{"WEFT_SPA=env.html"}, nil, "from the environment\n"},
		{[]string{"WEFT_SPA=env.html"}, []string{"--spa", "flag.html"}, "from the flag\n"},
	} {
		args := append([]string{"--engine", "goroutine", "--basic-auth", "site.htpasswd"}, tc.args...)
		s := serveRules(t, dir, tc.env, args...)
		ruleCheck{lines: nav("/somewhere"), status: "200", body: tc.want}.run(t, s.addr)
	}

	s := serveRules(t, dir, nil, "--engine", "goroutine",
		"--header", "*.txt: X-Text: yes",
		"--header", "/hello.txt: Cache-Control: no-store",
		"--cors", "https://a.example,https://b.example",
		"--error-page", "404=gone.html",
		"--basic-auth", "site.htpasswd",
	)
	get := func(path string, extra ...string) []string {
		return append([]string{"GET " + path + " HTTP/1.1", "Host: t"}, extra...)
	}
	for _, rc := range []ruleCheck{
		{lines: get("/hello.txt"), status: "401", headers: map[string]string{"WWW-Authenticate": `Basic realm="weft", charset="UTF-8"`}},
		{lines: get("/hello.txt", auth), status: "200", headers: map[string]string{"X-Text": "yes", "Cache-Control": "no-store"}, body: "hello\n"},
		{lines: get("/hello.txt", auth, "Origin: https://b.example"), status: "200", headers: map[string]string{"Access-Control-Allow-Origin": "https://b.example"}},
		{lines: get("/hello.txt", auth, "Origin: https://c.example"), status: "200", headers: map[string]string{"Access-Control-Allow-Origin": ""}},
		{lines: get("/missing.txt", auth), status: "404", body: "gone\n"},
		{lines: get("/somewhere", auth, "Sec-Fetch-Mode: navigate"), status: "200", body: "from the file\n"},
	} {
		rc.run(t, s.addr)
	}
}

// TestRuleConfigErrors: an unknown key inside [[headers]] and basic
// authentication on every address over plain HTTP stop weft serve with
// exit status 2 and say where.
func TestRuleConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site/index.html": "x\n", "site.htpasswd": htpasswdLine(t, "alice", "wonderland")})
	writeFile(t, filepath.Join(dir, "unknown.toml"), "root = \"site\"\n\n[[headers]]\nfor = \"/assets/**\"\nsett = { X-A = \"1\" }\n")
	writeFile(t, filepath.Join(dir, "auth.toml"), "root = \"site\"\naddr = \"0.0.0.0:0\"\n\n[[auth]]\nprefix = \"/admin\"\nhtpasswd = \"site.htpasswd\"\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--config", "unknown.toml"}, `weft: unknown.toml:5: unknown key "headers.sett" (did you mean "set"?)`},
		{nil, []string{"--config", "auth.toml"}, `weft: auth.toml:4: auth: basic authentication over plain HTTP on 0.0.0.0:0 (addr, auth.toml:2) would send passwords in clear: listen on loopback, or set allow_insecure_auth`},
		{nil, []string{"--config", "", "--addr", "0.0.0.0:0", "--basic-auth", "site.htpasswd", "site"}, `weft: flag --basic-auth: basic authentication over plain HTTP on 0.0.0.0:0 (addr, flag --addr)`},
		{[]string{"WEFT_ADDR=[::]:0"}, []string{"--config", "", "--basic-auth", "site.htpasswd", "site"}, `weft: flag --basic-auth: basic authentication over plain HTTP on [::]:0 (addr, env WEFT_ADDR)`},
		{nil, []string{"--config", "", "--header", "/a: X-A", "site"}, `invalid value "/a: X-A" for flag --header: want 'GLOB: Name: value'`},
		{nil, []string{"--config", "", "--header", "/a: Content-Length: 5", "site"}, `weft: flag --header: headers[0]: set Content-Length: weft manages this header`},
	} {
		code, stdout, stderr := weft(t, dir, tc.env, append([]string{"serve"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("weft serve %q: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// TestReloadRules: SIGHUP with a changed [[headers]] value makes new
// requests see the new value; a reload may also turn one site into
// [[site]] virtual hosts and back.
func TestReloadRules(t *testing.T) {
	for _, eng := range []string{"goroutine", "process"} {
		t.Run(eng, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"site/hello.txt": "hello\n", "other/hello.txt": "other\n"})
			conf := filepath.Join(dir, "weft.toml")
			generation := func(n int, extra string) {
				writeFile(t, conf, fmt.Sprintf("root = \"site\"\n\n[[headers]]\nfor = \"*.txt\"\nset = { X-Generation = \"%d\" }\n%s", n, extra))
			}
			generation(1, "")
			s := serveRules(t, dir, nil, "--engine", eng, "--workers", "2")
			done := "reload: serving the new configuration"
			if eng == "process" {
				waitLog(t, s.stderr, "workers ready", 1)
				done = "reload: old workers stopped"
			}
			check := func(host, gen, body string) {
				t.Helper()
				ruleCheck{lines: []string{"GET /hello.txt HTTP/1.1", "Host: " + host}, status: "200", headers: map[string]string{"X-Generation": gen}, body: body}.run(t, s.addr)
			}
			check("t", "1", "hello\n")
			reload := func(n int) {
				t.Helper()
				if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				waitLog(t, s.stderr, done, n)
			}
			generation(2, "")
			reload(1)
			check("t", "2", "hello\n")
			generation(3, "\n[[site]]\nhosts = [\"b.example\"]\nroot = \"other\"\n\n[[site.headers]]\nfor = \"*.txt\"\nset = { X-Generation = \"3b\" }\n\n[[site]]\ndefault = true\n")
			reload(2)
			check("b.example", "3b", "other\n")
			check("t", "3", "hello\n")
			generation(4, "")
			reload(3)
			check("b.example", "4", "hello\n")
			if strings.Contains(s.stderr.String(), "invalid configuration") || !s.alive() {
				t.Errorf("stderr:\n%s", s.stderr.String())
			}
		})
	}
}
