package config

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"

	"github.com/weft-server/weft/internal/site"
)

// htpasswd writes an htpasswd file of one bcrypt user as name in dir.
func htpasswd(t *testing.T, dir, name string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("wonderland"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("alice:"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const rulesDoc = `root = "public"
security = true
spa = "index.html"
trusted_proxies = ["10.0.0.0/8", "fd00::/8"]
auth_failures = 0

[[headers]]
for = "/assets/**"
set = { "Cache-Control" = "public, max-age=60" }
add = { X-Asset = "yes" }

[[headers]]
for = "*.txt"
remove = ["Last-Modified"]

[[redirects]]
from = "/old/*"
to = "/new/:splat"
status = 308

[[redirects]]
from = "/app"
to = "/app.html"
status = 200

[cors]
origins = ["https://app.example.com"]
methods = ["GET", "POST"]
credentials = true
max_age = 600

[[auth]]
prefix = "/admin"
htpasswd = "staff.htpasswd"
realm = "Staff only"

[[auth]]
prefix = "/admin/public"

[error_pages]
404 = "404.html"
"500" = "errors/500.html"
`

// TestRulesFile: the rule tables of a file reach the site configuration,
// relative htpasswd files from the file's folder, and the check output
// loads back to the same configuration.
func TestRulesFile(t *testing.T) {
	dir := t.TempDir()
	htpasswd(t, dir, "staff.htpasswd")
	if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte(rulesDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	sc := c.Site()
	wantHeaders := []site.HeaderRule{
		{For: "/assets/**", Set: map[string]string{"Cache-Control": "public, max-age=60"}, Add: map[string]string{"X-Asset": "yes"}},
		{For: "*.txt", Remove: []string{"Last-Modified"}},
	}
	for _, tc := range []struct {
		what      string
		got, want any
	}{
		{"headers", sc.Headers, wantHeaders},
		{"redirects", sc.Redirects, []site.Redirect{{From: "/old/*", To: "/new/:splat", Status: 308}, {From: "/app", To: "/app.html", Status: 200}}},
		{"cors", sc.CORS, &site.CORS{Origins: []string{"https://app.example.com"}, Methods: []string{"GET", "POST"}, Credentials: true, MaxAge: 600}},
		{"auth", sc.Auth, []site.AuthRule{{Prefix: "/admin", Htpasswd: filepath.Join(dir, "staff.htpasswd"), Realm: "Staff only"}, {Prefix: "/admin/public"}}},
		{"error_pages", sc.ErrorPages, map[int]string{404: "404.html", 500: "errors/500.html"}},
		{"trusted_proxies", sc.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}},
		{"security, spa", []any{sc.Security, sc.SPA, sc.HSTS, sc.Symlinks}, []any{true, "index.html", site.DefaultHSTS, site.SymlinksConfine}},
		{"auth_failures = 0: no limit", sc.AuthFailures, -1},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %#v\nwant %#v", tc.what, tc.got, tc.want)
		}
	}
	if err := sc.Validate(); err != nil {
		t.Errorf("the site configuration is invalid: %v", err)
	}
	file := filepath.Join(dir, DefaultFile)
	for key, line := range map[string]int{"headers": 7, "redirects": 16, "cors": 26, "auth": 32, "error_pages": 40, "spa": 3} {
		if src := c.Source(key); src != (Source{Kind: FromFile, Name: file, Line: line}) {
			t.Errorf("%s from %v, want line %d", key, src, line)
		}
	}
	out := c.Effective()
	for _, want := range []string{
		"headers = [",
		`  { for = "/assets/**", set = { Cache-Control = "public, max-age=60" }, add = { X-Asset = "yes" } },`,
		`cors = { origins = ["https://app.example.com"], methods = ["GET", "POST"], credentials = true, max_age = 600 }`,
		`error_pages = { 404 = "404.html", 500 = "errors/500.html" }`,
		`trusted_proxies = ["10.0.0.0/8", "fd00::/8"]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "check.toml"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := Load(Options{Dir: dir, Env: []string{"WEFT_CONFIG=" + filepath.Join(dir, "check.toml")}})
	if err != nil {
		t.Fatalf("check output does not load: %v\n%s", err, out)
	}
	if ch := Changed(c, again); len(ch) != 0 {
		t.Errorf("check output changes %v:\n%s", ch, out)
	}
}

// TestRuleErrors: a bad rule names the file, the line and the element.
func TestRuleErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"UnknownInHeaders", "[[headers]]\nfor = \"/a\"\nsett = { X-A = \"1\" }\n", `weft.toml:3: unknown key "headers.sett" (did you mean "set"?)`},
		{"UnknownInCORS", "[cors]\norigins = [\"*\"]\nmaxage = 5\n", `weft.toml:3: unknown key "cors.maxage" (did you mean "max_age"?)`},
		{"UnknownInline", "headers = [{ for = \"/a\", sett = { X-A = \"1\" } }]\n", `weft.toml:1: unknown key "sett"`},
		{"HeaderWrongType", "[[headers]]\nfor = 1\n", `weft.toml:2: headers.for: want a string, got an integer`},
		{"HeaderManaged", "[[headers]]\nfor = \"/a\"\n\n[[headers]]\nfor = \"/b\"\nset = { Content-Type = \"text/plain\" }\n", `weft.toml:4: headers[1]: set Content-Type: weft manages this header`},
		{"HeaderGlob", "[[headers]]\nfor = \"[\"\nset = { X-A = \"1\" }\n", `weft.toml:1: headers[0]: `},
		{"RedirectStatus", "[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\nstatus = 303\n", `weft.toml:1: redirects[0]: status 303: want 301, 302, 307, 308 or 200 (rewrite)`},
		{"RedirectStatusType", "[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\nstatus = \"301\"\n", `weft.toml:4: redirects.status: want an integer, got a string`},
		{"RedirectInline", "redirects = [\n  { from = \"/a\", to = \"/b\" },\n  { from = \"/c\", to = \"c\" },\n]\n", `weft.toml:3: redirects[1]: to "c": want a path from the root or an http(s) URL`},
		{"CORSCredentials", "\n[cors]\norigins = [\"*\"]\ncredentials = true\n", `weft.toml:2: cors: origin "*" with credentials`},
		{"CORSNoOrigins", "[cors]\nmax_age = 5\n", `weft.toml:1: cors: no origins`},
		{"ErrorPageKey", "[error_pages]\n404 = \"404.html\"\nnope = \"x.html\"\n", `weft.toml:3: error_pages.nope: "nope" is not a status code`},
		{"ErrorPageStatus", "[error_pages]\n200 = \"x.html\"\n", `weft.toml:2: error_pages.200: want 400 to 599`},
		{"ErrorPageFile", "[error_pages]\n404 = \"../404.html\"\n", `weft.toml:2: error_pages.404: file "../404.html": want a file's path beneath the root`},
		{"SPAFile", "spa = \"../app.html\"\n", `weft.toml:1: spa: file "../app.html"`},
		{"AuthPrefix", "[[auth]]\nprefix = \"admin\"\n", `weft.toml:1: auth[0]: auth prefix "admin": want a path from the root`},
		{"AuthTwice", "[[auth]]\nprefix = \"/a\"\n[[auth]]\nprefix = \"/a/\"\n", `weft.toml:1: auth: auth prefix "/a/": given twice`},
		{"AuthMissingFile", "[[auth]]\nprefix = \"/a\"\nhtpasswd = \"missing.htpasswd\"\n", `weft.toml:1: auth[0]: `},
		{"BasicAuthAndSlash", "basic_auth = \"x\"\n[[auth]]\nprefix = \"/\"\nhtpasswd = \"y\"\n", `weft.toml:1: basic_auth: contradicts the auth rule for "/" (weft.toml:2)`},
		{"AuthBeyondLoopback", "addr = \"0.0.0.0:8080\"\n[[auth]]\nprefix = \"/a\"\nrealm = \"x\"\n[[auth]]\nprefix = \"/b\"\nhtpasswd = \"" + "HTPASSWD" + "\"\n", `weft.toml:2: auth: basic authentication over plain HTTP on 0.0.0.0:8080 (addr, weft.toml:1) would send passwords in clear`},
		{"TrustedProxy", "trusted_proxies = [\"10.0.0.0/33\"]\n", `weft.toml:1: trusted_proxies: netip.ParsePrefix("10.0.0.0/33")`},
		{"Symlinks", "symlinks = \"always\"\n", `weft.toml:1: symlinks: unknown symlinks policy "always" (want confine, follow or deny)`},
		{"TrailingSlash", "trailing_slash = \"keep\"\n", `weft.toml:1: trailing_slash: unknown policy "keep" (want add or remove)`},
		{"UnknownHost", "unknown_host = 400\n", `weft.toml:1: unknown_host: 400: want 421 or 404`},
		{"AuthFailures", "auth_failures = -1\n", `weft.toml:1: auth_failures: must not be negative, got -1`},
		{"HSTS", "hsts = \" x\"\n", `weft.toml:1: hsts: header Strict-Transport-Security: empty value or surrounding spaces`},

		{"SiteUnknownKey", "[[site]]\nhosts = [\"a.example\"]\nengine = \"epoll\"\n", `weft.toml:3: unknown key "site.engine"`},
		{"SiteTypo", "[[site]]\nhosts = [\"a.example\"]\nlisting = true\nrooot = \"x\"\n", `weft.toml:4: unknown key "site.rooot" (did you mean "root"?)`},
		{"SiteNestedUnknown", "[[site]]\nhosts = [\"a.example\"]\n[[site.headers]]\nfor = \"/a\"\nsett = {}\n", `weft.toml:5: unknown key "site.headers.sett" (did you mean "set"?)`},
		{"SiteNoHosts", "[[site]]\nroot = \"a\"\n", `weft.toml:1: site[0].hosts: no hosts and not the default`},
		{"SiteBadHost", "[[site]]\nhosts = [\n  \"a.example\",\n  \"b.example:80\",\n]\n", `weft.toml:4: site[0].hosts[1]: host "b.example:80": want a name`},
		{"SiteTwoDefaults", "[[site]]\ndefault = true\n\n[[site]]\nhosts = [\"b.example\"]\ndefault = true\n", `weft.toml:6: site[1].default: a second default site (the first is site[0], line 1)`},
		{"SiteSameHost", "[[site]]\nhosts = [\"a.example\"]\n[[site]]\nhosts = [\"b.example\", \"A.Example.\"]\n", `weft.toml:4: site[1].hosts[1]: host "A.Example." is site[0]'s too`},
		{"SiteRule", "[[site]]\nhosts = [\"a.example\"]\n\n[[site.headers]]\nfor = \"/x\"\nset = { Server = \"me\" }\n", `weft.toml:4: site[0].headers[0]: set Server: weft manages this header`},
		{"SiteKeyValue", "[[site]]\nhosts = [\"a.example\"]\nsymlinks = \"no\"\n", `weft.toml:3: site[0].symlinks: unknown symlinks policy "no"`},
		{"SiteInherited", "no_cache_control = true\n[[site]]\nhosts = [\"a.example\"]\ncache_control = [\"*=x\"]\n", `weft.toml:2: site[0]: no_cache_control (inherited): contradicts cache_control (weft.toml:4)`},
		{"SiteAuthBeyondLoopback", "addr = \"[::]:80\"\n[[site]]\nhosts = [\"a.example\"]\n[[site]]\nhosts = [\"b.example\"]\nbasic_auth = \"HTPASSWD\"\n", `weft.toml:6: site[1].basic_auth: basic authentication over plain HTTP on [::]:80`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			doc := strings.ReplaceAll(tc.doc, "HTPASSWD", htpasswd(t, dir, "x.htpasswd"))
			if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(Options{Dir: dir})
			if err == nil {
				t.Fatalf("no error for\n%s", doc)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("%q\nwant %q", msg, tc.want)
			}
		})
	}
}

// TestRuleFlagsAndEnv: the short forms of the rules, as flags and
// variables, and their precedence over the file, key by key.
func TestRuleFlagsAndEnv(t *testing.T) {
	doc := "spa = \"file.html\"\n[[headers]]\nfor = \"/f\"\nset = { X-From = \"file\" }\n"
	_, _, err := load(t, doc, nil, "--basic-auth", "missing.htpasswd", "--allow-insecure-auth")
	// The htpasswd file does not exist: only its check fails.
	if err == nil || !strings.Contains(err.Error(), "flag --basic-auth: ") || strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("want one error, about --basic-auth's missing file: %v", err)
	}
	dir := t.TempDir()
	file := htpasswd(t, dir, "site.htpasswd")
	c, _, err := load(t, doc, []string{"WEFT_SPA=env.html", "WEFT_CORS=https://a.example, https://b.example", "WEFT_ERROR_PAGES=404=404.html,410=gone.html"},
		"--header", "/assets/**: Cache-Control: public, max-age=60",
		"--header", "*.txt: X-Text: yes: really",
		"--redirect", "/old/* /new/:splat 308",
		"--redirect", "/a /b",
		"--error-page", "404=lost.html",
		"--basic-auth", file,
		"--trusted-proxies", "10.0.0.0/8,192.168.0.0/16",
	)
	if err != nil {
		t.Fatal(err)
	}
	sc := c.Site()
	for _, tc := range []struct {
		key       string
		got, want any
		src       string
	}{
		{"spa", sc.SPA, "env.html", "env WEFT_SPA"},
		{"headers", sc.Headers, []site.HeaderRule{
			{For: "/assets/**", Set: map[string]string{"Cache-Control": "public, max-age=60"}},
			{For: "*.txt", Set: map[string]string{"X-Text": "yes: really"}},
		}, "flag --header"},
		{"redirects", sc.Redirects, []site.Redirect{{From: "/old/*", To: "/new/:splat", Status: 308}, {From: "/a", To: "/b"}}, "flag --redirect"},
		{"cors", sc.CORS, &site.CORS{Origins: []string{"https://a.example", "https://b.example"}}, "env WEFT_CORS"},
		{"error_pages", sc.ErrorPages, map[int]string{404: "lost.html"}, "flag --error-page"},
		{"basic_auth", sc.Auth, []site.AuthRule{{Prefix: "/", Htpasswd: file}}, "flag --basic-auth"},
		{"trusted_proxies", sc.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")}, "flag --trusted-proxies"},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) || c.Source(tc.key).String() != tc.src {
			t.Errorf("%s = %#v from %v\nwant %#v from %s", tc.key, tc.got, c.Source(tc.key), tc.want, tc.src)
		}
	}

	// The long forms in the environment: TOML values, strictly.
	c, _, err = load(t, "", []string{
		`WEFT_HEADERS=[{ for = "/a", add = { X-A = "1" } }]`,
		`WEFT_CORS={ origins = ["*"], max_age = 60 }`,
		`WEFT_AUTH=[{ prefix = "/open" }]`,
		`WEFT_REDIRECTS=/x /y 302`,
		`WEFT_TRUSTED_PROXIES=["::1/128"]`,
		`WEFT_ERROR_PAGES={ "404" = "e.html" }`,
	})
	if err != nil {
		t.Fatal(err)
	}
	sc = c.Site()
	if !reflect.DeepEqual(sc.Headers, []site.HeaderRule{{For: "/a", Add: map[string]string{"X-A": "1"}}}) ||
		!reflect.DeepEqual(sc.CORS, &site.CORS{Origins: []string{"*"}, MaxAge: 60}) ||
		!reflect.DeepEqual(sc.Auth, []site.AuthRule{{Prefix: "/open"}}) ||
		!reflect.DeepEqual(sc.Redirects, []site.Redirect{{From: "/x", To: "/y", Status: 302}}) ||
		!reflect.DeepEqual(sc.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("::1/128")}) ||
		!reflect.DeepEqual(sc.ErrorPages, map[int]string{404: "e.html"}) {
		t.Errorf("%#v", sc)
	}
	for _, tc := range []struct{ env, want string }{
		{`WEFT_CORS={ origin = ["*"] }`, `env WEFT_CORS: want a TOML table: unknown key "origin"`},
		{`WEFT_HEADERS=/a X-A 1`, `env WEFT_HEADERS: want 'GLOB: Name: value'`},
		{`WEFT_HEADERS=[{ for = "/a", set = { Content-Length = "1" } }]`, `env WEFT_HEADERS: headers[0]: set Content-Length: weft manages this header`},
		{`WEFT_REDIRECTS=/a`, `env WEFT_REDIRECTS: want 'FROM TO [STATUS]'`},
		{`WEFT_ERROR_PAGES=404`, `env WEFT_ERROR_PAGES: want STATUS=FILE`},
		{`WEFT_TRUSTED_PROXIES=10.0.0.1`, `env WEFT_TRUSTED_PROXIES: want CIDRs such as 10.0.0.0/8`},
		{`WEFT_AUTH=/admin`, `env WEFT_AUTH: want a TOML array of tables`},
	} {
		if _, _, err := load(t, "", []string{tc.env}); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %s", tc.env, err, tc.want)
		}
	}
	for _, args := range [][]string{
		{"--header", "/a: X-A"},
		{"--redirect", "/a /b /c /d"},
		{"--redirect", "/a /b permanent"},
		{"--error-page", "lost.html"},
		{"--cors", ","},
		{"--trusted-proxies", "localhost"},
	} {
		fs := newFlagSet()
		if err := fs.Parse(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// TestSites: [[site]] tables inherit the top level but for the keys they
// set; a flag sets the top level, not a site's own value.
func TestSites(t *testing.T) {
	doc := `security = true
listing = true

[[site]]
hosts = ["example.com", "www.example.com"]
root = "a"
listing = false
spa = "app.html"

[[site.headers]]
for = "/assets/**"
set = { "Cache-Control" = "immutable" }

[site.cors]
origins = ["*"]

[[site]]
hosts = ["*.example.org"]
default = true
`
	c, dir, err := load(t, doc, nil, "--index", "home.html", "--listing=false", "--security=false", "top")
	if err != nil {
		t.Fatal(err)
	}
	hc := c.Hosts()
	if hc == nil || len(hc.Sites) != 2 || hc.Unknown != 421 {
		t.Fatalf("hosts %+v", hc)
	}
	a, b := hc.Sites[0], hc.Sites[1]
	if !reflect.DeepEqual(a.Hosts, []string{"example.com", "www.example.com"}) || a.Default || !b.Default || !reflect.DeepEqual(b.Hosts, []string{"*.example.org"}) {
		t.Errorf("hosts %v %v, %v %v", a.Hosts, a.Default, b.Hosts, b.Default)
	}
	for _, tc := range []struct {
		what      string
		got, want any
	}{
		{"a's root, from the file's folder", a.Site.Root, filepath.Join(dir, "a")},
		{"b's root: the top level's (DIR)", b.Site.Root, "top"},
		{"a's own listing", a.Site.Listing, false},
		{"b's listing: the flag's", b.Site.Listing, false},
		{"a's security: the flag's", a.Site.Security, false},
		{"index: the flag's", []string{a.Site.Index, b.Site.Index}, []string{"home.html", "home.html"}},
		{"a's spa", a.Site.SPA, "app.html"},
		{"a's headers", a.Site.Headers, []site.HeaderRule{{For: "/assets/**", Set: map[string]string{"Cache-Control": "immutable"}}}},
		{"a's cors", a.Site.CORS, &site.CORS{Origins: []string{"*"}}},
		{"b has no rules of its own", []any{b.Site.SPA, len(b.Site.Headers), b.Site.CORS}, []any{"", 0, (*site.CORS)(nil)}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %#v, want %#v", tc.what, tc.got, tc.want)
		}
	}
	file := filepath.Join(dir, DefaultFile)
	if src := c.SiteConfig(&c.Sites[0]).Source("spa"); src != (Source{Kind: FromFile, Name: file, Line: 8}) {
		t.Errorf("site[0].spa from %v", src)
	}
	if c.Sites[0].Line != 4 || c.Sites[1].Line != 17 {
		t.Errorf("sites at lines %d and %d", c.Sites[0].Line, c.Sites[1].Line)
	}
	out := c.Effective()
	for _, want := range []string{"\n[[site]]  # " + file + ":4\nhosts = [\"example.com\", \"www.example.com\"]\n", "\n[[site]]  # " + file + ":17\nhosts = [\"*.example.org\"]\ndefault = true\n", `spa = "app.html"`} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	again, _, err := load(t, out, nil, "--index", "home.html", "--listing=false", "--security=false", "top")
	if err != nil {
		t.Fatalf("check output does not load: %v\n%s", err, out)
	}
	if ch := Changed(c, again); len(ch) != 0 {
		t.Errorf("check output changes %v:\n%s", ch, out)
	}
	c2, _, err := load(t, strings.Replace(doc, `"immutable"`, `"no-store"`, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ch := Changed(c, c2); !reflect.DeepEqual(ch[len(ch)-1:], []string{"site"}) {
		t.Errorf("a site's header changed: Changed says %v", ch)
	}
	if c, _, err := load(t, "", nil); err != nil || c.Hosts() != nil {
		t.Errorf("no [[site]]: hosts %v, %v", c.Hosts(), err)
	}
}

func newFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	NewFlags(fs)
	return fs
}
