package conformance

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/origin"
	"github.com/weft-server/weft/internal/site"
)

// Run runs the whole suite against servers made by start.
func Run(t *testing.T, start Starter, caps Capabilities) {
	checkLeaks(t)
	root := Tree(t)
	base := start(t, Options{Site: site.Config{Root: root}})
	s := &suite{start: start, root: root, addr: base.Addr, caps: caps}
	for _, c := range s.cases() {
		t.Run(c.name, c.run)
	}
}

// suiteCase is one case of the suite. dir: it needs a directory root (it
// changes the tree's files, uploads, or serves roots of its own), so
// RunOrigin leaves it out.
type suiteCase struct {
	name string
	run  func(*testing.T)
	dir  bool
}

func (s *suite) cases() []suiteCase {
	return []suiteCase{
		{"Basics", s.basics, false},
		{"Methods", s.methods, false},
		{"ContentType", s.contentType, false},
		{"Directories", s.directories, false},
		{"Conditional", s.conditional, false},
		{"Ranges", s.ranges, false},
		{"Multipart", s.multipart, false},
		{"KeepAlive", s.keepAlive, false},
		{"Pipelining", s.pipelining, false},
		{"Targets", s.targets, false},
		{"HostRules", s.hostRules, false},
		{"HostilePaths", s.hostilePaths, false},
		{"MalformedRequests", s.malformed, false},
		{"Limits", s.limits, false},
		{"Bodies", s.bodies, false},
		{"LingeringClose", s.lingeringClose, false},
		{"LargeFile", s.largeFile, false},
		{"AccessLog", s.accessLog, false},
		{"Listing", s.listing, false},
		{"Downloads", s.downloads, false},
		{"Representations", s.representations, false},
		{"CachePolicy", s.cachePolicy, false},
		{"Rules", s.rules, false},
		{"Dotfiles", s.dotfiles, false},
		{"NetHTTPClient", s.netHTTP, false},
		{"Curl", s.curl, false},
		{"Slowloris", s.slowloris, false},
		{"IdleTimeout", s.idleTimeout, false},
		{"MaxConns", s.maxConns, false},
		{"CacheFreshness", s.cacheFreshness, true},
		{"SlowReaders", s.slowReaders, false},
		{"WriteTimeout", s.writeTimeout, false},
		{"GracefulShutdown", s.gracefulShutdown, false},
		{"DrainAnswersArrived", s.drainAnswersArrived, false},
		{"StopsListening", s.stopsListening, false},
		{"Uploads", s.uploads, true},
	}
}

type suite struct {
	start Starter
	root  string
	addr  string
	caps  Capabilities

	origin bool // the root is an s3:// copy of the tree (see RunOrigin)
	// copyTree, when set (RunOrigin), copies a tree a case made into the
	// store and returns its s3:// root and the store's config.
	copyTree func(t *testing.T, dir string) (string, origin.Config)
}

// treeRoot is the site config of a tree a case made: the folder itself,
// or its copy in the store when the suite runs over s3:// roots.
func (s *suite) treeRoot(t *testing.T, dir string) site.Config {
	if s.copyTree == nil {
		return site.Config{Root: dir}
	}
	root, cfg := s.copyTree(t, dir)
	return site.Config{Root: root, Origin: cfg}
}

func wantStatus(t *testing.T, r *Resp, code int) {
	t.Helper()
	if r.Status != code {
		t.Fatalf("status %d, want %d\n%s", r.Status, code, r.Raw)
	}
}

func wantHeader(t *testing.T, r *Resp, name, want string) {
	t.Helper()
	if got := r.Header.Get(name); got != want {
		t.Errorf("%s: %q, want %q\n%s", name, got, want, r.Raw)
	}
}

var strongETag = regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+"$`)

func (s *suite) basics(t *testing.T) {
	r := one(t, s.addr, get("/"))
	wantStatus(t, r, 200)
	if r.Body != indexHTML {
		t.Errorf("body %q, want index.html", r.Body)
	}
	wantHeader(t, r, "Content-Type", "text/html; charset=utf-8")
	wantHeader(t, r, "Content-Length", fmt.Sprint(len(indexHTML)))
	wantHeader(t, r, "Accept-Ranges", "bytes")
	if _, err := http.ParseTime(r.Header.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", r.Header.Get("Date"), err)
	}
	fi, _ := os.Stat(filepath.Join(s.root, "index.html"))
	wantHeader(t, r, "Last-Modified", fi.ModTime().UTC().Format(http.TimeFormat))
	if !strongETag.MatchString(r.Header.Get("ETag")) {
		t.Errorf("ETag %q is not a strong validator", r.Header.Get("ETag"))
	}
	if !strings.HasPrefix(r.Raw, "HTTP/1.1 200 OK\r\n") {
		t.Errorf("status line %q", firstLine(r.Raw))
	}

	t.Run("EmptyLinesBeforeRequest", func(t *testing.T) {
		// RFC 9112 §2.2: empty lines before a request line are ignored.
		wantStatus(t, one(t, s.addr, "\r\n\r\n\n\r\n"+get("/hello.txt")), 200)
	})
	t.Run("NotFound", func(t *testing.T) {
		r := one(t, s.addr, get("/missing.html"))
		wantStatus(t, r, 404)
		wantHeader(t, r, "Content-Type", "text/html; charset=utf-8")
		if !strings.Contains(r.Body, "404 Not Found") {
			t.Errorf("body %q", r.Body)
		}
	})
	t.Run("HeadSameHeadersNoBody", func(t *testing.T) {
		g := one(t, s.addr, get("/hello.txt"))
		// HEAD then GET on one connection: if HEAD carried a body, the
		// GET's response would not parse.
		c := dial(t, s.addr)
		defer c.Close()
		io.WriteString(c, req("HEAD", "/hello.txt")+get("/hello.txt", "Connection: close"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		h, err := readResp(br, "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		g2, err := readResp(br, "GET")
		if err != nil {
			t.Fatalf("response after HEAD: %v (HEAD sent a body?)", err)
		}
		wantStatus(t, h, 200)
		for _, name := range []string{"Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges"} {
			if h.Header.Get(name) != g.Header.Get(name) {
				t.Errorf("HEAD %s %q, GET %q", name, h.Header.Get(name), g.Header.Get(name))
			}
		}
		if g2.Body != helloTxt {
			t.Errorf("GET after HEAD: body %q", g2.Body)
		}
	})
}

func (s *suite) methods(t *testing.T) {
	cases := []struct {
		name, raw string
		status    int
		allow     bool
	}{
		{"OPTIONS", req("OPTIONS", "/"), 200, true},
		{"OPTIONS*", req("OPTIONS", "*"), 200, true},
		{"POST", req("POST", "/", "Content-Length: 0"), 405, true},
		{"PUT", req("PUT", "/x", "Content-Length: 0"), 405, true},
		{"DELETE", req("DELETE", "/"), 405, true},
		{"PATCH", req("PATCH", "/"), 405, true},
		{"TRACE", req("TRACE", "/"), 405, true},
		{"Unknown", req("BREW", "/"), 501, false},
		{"LowercaseIsAnotherMethod", req("get", "/"), 501, false},
		{"HTTP2", "GET / HTTP/2.0\r\nHost: test\r\n\r\n", 505, false},
		{"HTTP0", "GET / HTTP/0.9\r\nHost: test\r\n\r\n", 505, false},
		{"HTTP1.2AsHTTP1.1", "GET / HTTP/1.2\r\nHost: test\r\n\r\n", 200, false},
		{"GetAsterisk", req("GET", "*"), 400, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, s.addr, tc.raw)
			wantStatus(t, r, tc.status)
			if tc.allow {
				wantHeader(t, r, "Allow", "GET, HEAD, OPTIONS")
			}
			if r.Header.Get("Content-Length") == "" {
				t.Errorf("no Content-Length\n%s", r.Raw)
			}
		})
	}
}

func (s *suite) contentType(t *testing.T) {
	cases := map[string]string{
		"/hello.txt": "text/plain; charset=utf-8",
		"/style.css": "text/css; charset=utf-8",
		"/app.js":    "text/javascript; charset=utf-8",
		"/pic.png":   "image/png",
		"/data.json": "application/json",
		"/LOUD.HTML": "text/html; charset=utf-8",
		"/noext":     "application/octet-stream",
		"/data.bin":  "application/octet-stream",
	}
	for path, want := range cases {
		t.Run(path, func(t *testing.T) {
			r := one(t, s.addr, get(path))
			wantStatus(t, r, 200)
			wantHeader(t, r, "Content-Type", want)
		})
	}
}

func (s *suite) directories(t *testing.T) {
	t.Run("SlashServesIndex", func(t *testing.T) {
		r := one(t, s.addr, get("/dir/"))
		wantStatus(t, r, 200)
		if r.Body != "<p>dir index</p>\n" {
			t.Errorf("body %q", r.Body)
		}
	})
	for _, tc := range []struct{ path, loc string }{
		{"/dir", "/dir/"},
		{"/dir?x=1&y=2", "/dir/?x=1&y=2"},
		{"/dir/sub", "/dir/sub/"},
		{"//dir", "/dir/"}, // never a protocol-relative Location
		{"/d%69r", "/d%69r/"},
	} {
		t.Run("Redirect"+tc.path, func(t *testing.T) {
			r := one(t, s.addr, get(tc.path))
			if r.Status != 301 && r.Status != 308 {
				t.Fatalf("status %d, want 301 or 308", r.Status)
			}
			wantHeader(t, r, "Location", tc.loc)
		})
	}
	t.Run("NoIndexNoListing", func(t *testing.T) {
		r := one(t, s.addr, get("/empty/"))
		wantStatus(t, r, 403) // as nginx with autoindex off
		if !strings.Contains(r.Body, "--listing") {
			t.Errorf("the 403 page does not tell of --listing:\n%s", r.Body)
		}
	})
	t.Run("FileWithSlash", func(t *testing.T) {
		wantStatus(t, one(t, s.addr, get("/hello.txt/")), 404)
	})
	t.Run("EncodedSpace", func(t *testing.T) {
		r := one(t, s.addr, get("/a%20b.txt"))
		wantStatus(t, r, 200)
		if r.Body != "space\n" {
			t.Errorf("body %q", r.Body)
		}
	})
}

func (s *suite) conditional(t *testing.T) {
	first := one(t, s.addr, get("/hello.txt"))
	etag := first.Header.Get("ETag")
	lm := first.Header.Get("Last-Modified")
	lmTime, _ := http.ParseTime(lm)
	past := lmTime.Add(-time.Hour).Format(http.TimeFormat)
	future := lmTime.Add(time.Hour).Format(http.TimeFormat)
	cases := []struct {
		name    string
		method  string
		headers []string
		status  int
	}{
		{"IfNoneMatchHit", "GET", []string{"If-None-Match: " + etag}, 304},
		{"IfNoneMatchWeakHit", "GET", []string{"If-None-Match: W/" + etag}, 304},
		{"IfNoneMatchList", "GET", []string{`If-None-Match: "nope", ` + etag}, 304},
		{"IfNoneMatchStar", "GET", []string{"If-None-Match: *"}, 304},
		{"IfNoneMatchMiss", "GET", []string{`If-None-Match: "nope"`}, 200},
		{"IfNoneMatchHead", "HEAD", []string{"If-None-Match: " + etag}, 304},
		{"IfModifiedSinceSame", "GET", []string{"If-Modified-Since: " + lm}, 304},
		{"IfModifiedSinceFuture", "GET", []string{"If-Modified-Since: " + future}, 304},
		{"IfModifiedSincePast", "GET", []string{"If-Modified-Since: " + past}, 200},
		{"IfModifiedSinceGarbage", "GET", []string{"If-Modified-Since: yesterday"}, 200},
		{"IfNoneMatchBeatsIfModifiedSince", "GET", []string{`If-None-Match: "nope"`, "If-Modified-Since: " + future}, 200},
		{"IfMatchMiss", "GET", []string{`If-Match: "nope"`}, 412},
		{"IfMatchWeakNeverMatches", "GET", []string{"If-Match: W/" + etag}, 412},
		{"IfMatchHit", "GET", []string{"If-Match: " + etag}, 200},
		{"IfMatchStar", "GET", []string{"If-Match: *"}, 200},
		{"IfUnmodifiedSincePast", "GET", []string{"If-Unmodified-Since: " + past}, 412},
		{"IfUnmodifiedSinceFuture", "GET", []string{"If-Unmodified-Since: " + future}, 200},
		{"IfMatchBeatsIfUnmodifiedSince", "GET", []string{"If-Match: " + etag, "If-Unmodified-Since: " + past}, 200},
		{"IfMatchFailsBeforeIfNoneMatch", "GET", []string{`If-Match: "nope"`, "If-None-Match: " + etag}, 412},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, s.addr, req(tc.method, "/hello.txt", tc.headers...))
			wantStatus(t, r, tc.status)
			if tc.status == 304 {
				wantHeader(t, r, "ETag", etag)
				if r.Header.Get("Content-Length") != "" {
					t.Errorf("304 with Content-Length %q", r.Header.Get("Content-Length"))
				}
			}
			if tc.status == 200 && tc.method == "GET" && r.Body != helloTxt {
				t.Errorf("body %q", r.Body)
			}
		})
	}
	t.Run("304ThenNextRequest", func(t *testing.T) {
		// A 304 has no body: the next pipelined response must follow it directly.
		c := dial(t, s.addr)
		defer c.Close()
		io.WriteString(c, get("/hello.txt", "If-None-Match: "+etag)+get("/hello.txt"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		r1, err := readResp(br, "GET")
		if err != nil {
			t.Fatal(err)
		}
		r2, err := readResp(br, "GET")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, r1, 304)
		wantStatus(t, r2, 200)
	})
}

func (s *suite) ranges(t *testing.T) {
	size := len(dataBin)
	first := one(t, s.addr, get("/data.bin"))
	etag, lm := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
	cases := []struct {
		name    string
		headers []string
		status  int
		cr      string // Content-Range
		body    string
	}{
		{"Single", []string{"Range: bytes=0-4"}, 206, fmt.Sprintf("bytes 0-4/%d", size), dataBin[:5]},
		{"Middle", []string{"Range: bytes=10-19"}, 206, fmt.Sprintf("bytes 10-19/%d", size), dataBin[10:20]},
		{"OpenEnded", []string{"Range: bytes=990-"}, 206, fmt.Sprintf("bytes 990-999/%d", size), dataBin[990:]},
		{"Suffix", []string{"Range: bytes=-3"}, 206, fmt.Sprintf("bytes 997-999/%d", size), dataBin[997:]},
		{"SuffixLargerThanFile", []string{"Range: bytes=-5000"}, 206, fmt.Sprintf("bytes 0-999/%d", size), dataBin},
		{"EndPastSize", []string{"Range: bytes=995-5000"}, 206, fmt.Sprintf("bytes 995-999/%d", size), dataBin[995:]},
		{"Unsatisfiable", []string{"Range: bytes=1000-"}, 416, fmt.Sprintf("bytes */%d", size), ""},
		{"UnsatisfiableSuffixZero", []string{"Range: bytes=-0"}, 416, fmt.Sprintf("bytes */%d", size), ""},
		{"MalformedIgnored", []string{"Range: bytes=abc"}, 200, "", dataBin},
		{"BackwardsIgnored", []string{"Range: bytes=5-1"}, 200, "", dataBin},
		{"OtherUnitIgnored", []string{"Range: items=0-1"}, 200, "", dataBin},
		{"OverlapIgnored", []string{"Range: bytes=0-10,5-15"}, 200, "", dataBin},
		{"TooManyIgnored", []string{"Range: bytes=" + strings.Repeat("1-1,", 40) + "2-2"}, 200, "", dataBin},
		{"IfRangeETagMatch", []string{"Range: bytes=0-4", "If-Range: " + etag}, 206, fmt.Sprintf("bytes 0-4/%d", size), dataBin[:5]},
		{"IfRangeETagMismatch", []string{"Range: bytes=0-4", `If-Range: "other"`}, 200, "", dataBin},
		{"IfRangeDateMatch", []string{"Range: bytes=0-4", "If-Range: " + lm}, 206, fmt.Sprintf("bytes 0-4/%d", size), dataBin[:5]},
		{"IfRangeDateOld", []string{"Range: bytes=0-4", "If-Range: Mon, 01 Jan 2001 00:00:00 GMT"}, 200, "", dataBin},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, s.addr, get("/data.bin", tc.headers...))
			wantStatus(t, r, tc.status)
			wantHeader(t, r, "Content-Range", tc.cr)
			if r.Body != tc.body && tc.status != 416 {
				t.Errorf("body %d bytes, want %d", len(r.Body), len(tc.body))
			}
		})
	}
	t.Run("HeadRange", func(t *testing.T) {
		r := one(t, s.addr, req("HEAD", "/data.bin", "Range: bytes=0-4"))
		if r.Status != 200 && r.Status != 206 {
			t.Fatalf("status %d", r.Status)
		}
	})
}

func (s *suite) multipart(t *testing.T) {
	r := one(t, s.addr, get("/data.bin", "Range: bytes=0-1, 10-12, -2"))
	wantStatus(t, r, 206)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q: %v", r.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(strings.NewReader(r.Body), params["boundary"])
	want := []struct{ cr, body string }{
		{"bytes 0-1/1000", dataBin[0:2]},
		{"bytes 10-12/1000", dataBin[10:13]},
		{"bytes 998-999/1000", dataBin[998:]},
	}
	for i, w := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if got := p.Header.Get("Content-Range"); got != w.cr {
			t.Errorf("part %d Content-Range %q, want %q", i, got, w.cr)
		}
		if got := p.Header.Get("Content-Type"); got != "application/octet-stream" {
			t.Errorf("part %d Content-Type %q", i, got)
		}
		b, _ := io.ReadAll(p)
		if string(b) != w.body {
			t.Errorf("part %d body %q, want %q", i, b, w.body)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("after last part: %v, want EOF", err)
	}
	t.Run("ThenPlainOnSameConnection", func(t *testing.T) {
		// Regression: a reused response plan kept an empty, non-nil parts
		// list and sent the next response without its body.
		rs, _ := exchange(t, s.addr, get("/data.bin", "Range: bytes=0-1,5-6")+get("/hello.txt", "Connection: close"))
		if len(rs) != 2 || rs[1].Body != helloTxt {
			t.Fatalf("%d responses; second body %q", len(rs), rs[len(rs)-1].Body)
		}
	})
}

func (s *suite) keepAlive(t *testing.T) {
	t.Run("HTTP11Default", func(t *testing.T) {
		c := dial(t, s.addr)
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			io.WriteString(c, get("/hello.txt"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			r, err := readResp(br, "GET")
			if err != nil {
				t.Fatalf("request %d on one connection: %v", i, err)
			}
			wantStatus(t, r, 200)
			if r.Header.Get("Connection") != "" {
				t.Errorf("Connection: %q on a kept-alive 1.1 response", r.Header.Get("Connection"))
			}
		}
	})
	t.Run("ConnectionClose", func(t *testing.T) {
		rs, closed := exchange(t, s.addr, get("/hello.txt", "Connection: close"))
		if len(rs) != 1 || !closed {
			t.Fatalf("%d responses, closed %v; want 1 and closed", len(rs), closed)
		}
		wantHeader(t, rs[0], "Connection", "close")
	})
	t.Run("HTTP10Closes", func(t *testing.T) {
		rs, closed := exchange(t, s.addr, "GET /hello.txt HTTP/1.0\r\n\r\n")
		if len(rs) != 1 || !closed {
			t.Fatalf("%d responses, closed %v; want 1 and closed", len(rs), closed)
		}
		wantStatus(t, rs[0], 200)
	})
	t.Run("HTTP10KeepAlive", func(t *testing.T) {
		c := dial(t, s.addr)
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			io.WriteString(c, "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			r, err := readResp(br, "GET")
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			wantHeader(t, r, "Connection", "keep-alive")
		}
	})
	t.Run("CloseBeatsKeepAlive", func(t *testing.T) {
		_, closed := exchange(t, s.addr, "GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n")
		if !closed {
			t.Fatal("connection left open")
		}
	})
}

func (s *suite) pipelining(t *testing.T) {
	paths := []string{"/hello.txt", "/style.css", "/missing", "/dir/", "/data.bin", "/app.js"}
	var raw strings.Builder
	for i, p := range paths {
		h := []string{}
		if i == len(paths)-1 {
			h = append(h, "Connection: close")
		}
		raw.WriteString(get(p, h...))
	}
	rs, closed := exchange(t, s.addr, raw.String())
	if len(rs) != len(paths) || !closed {
		t.Fatalf("%d responses, closed %v; want %d and closed", len(rs), closed, len(paths))
	}
	wantStatus(t, rs[0], 200)
	if rs[0].Body != helloTxt || rs[1].Header.Get("Content-Type") != "text/css; charset=utf-8" ||
		rs[2].Status != 404 || rs[3].Body != "<p>dir index</p>\n" || rs[4].Body != dataBin {
		t.Errorf("responses out of order or wrong")
	}
	t.Run("AfterLargeBody", func(t *testing.T) {
		// The large body fills the output backlog; the request behind it
		// waits in the input buffer and must still be answered.
		rs, closed := exchange(t, s.addr, get("/big.bin")+get("/big.bin")+get("/hello.txt", "Connection: close"))
		if len(rs) != 3 || !closed {
			t.Fatalf("%d responses, closed %v; want 3 and closed", len(rs), closed)
		}
		if len(rs[1].Body) != 1<<20 || rs[2].Body != helloTxt {
			t.Fatal("responses after a large body are wrong")
		}
	})
	t.Run("ManySmall", func(t *testing.T) {
		const n = 200
		rs, _ := exchange(t, s.addr, strings.Repeat(get("/hello.txt"), n-1)+get("/hello.txt", "Connection: close"))
		if len(rs) != n {
			t.Fatalf("%d responses, want %d", len(rs), n)
		}
	})
	t.Run("SlowReaderSmallWindow", func(t *testing.T) {
		// A batch whose answers overflow every buffer on the way, read
		// slowly through an 8 KiB window: answered in order, each
		// complete, then a clean end of stream.
		big, _ := os.ReadFile(filepath.Join(s.root, "big.bin"))
		type want struct {
			method, raw, body string
			status            int
		}
		var batch []want
		for i := 0; i < 3; i++ {
			batch = append(batch,
				want{"GET", get("/big.bin"), string(big), 200},
				want{"GET", get("/hello.txt"), helloTxt, 200},
				want{"HEAD", req("HEAD", "/big.bin"), "", 200},
				want{"GET", get("/big.bin", "Range: bytes=100-199"), string(big[100:200]), 206},
				want{"GET", get("/missing"), "", 404},
				want{"GET", get("/data.bin"), dataBin, 200})
		}
		batch = append(batch, want{"GET", get("/hello.txt", "Connection: close"), helloTxt, 200})
		var raw strings.Builder
		for _, w := range batch {
			raw.WriteString(w.raw)
		}
		c := DialSmallWindow(t, s.addr, 8<<10)
		defer c.Close()
		go io.WriteString(c, raw.String())
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReaderSize(slowReader{c}, 4<<10)
		for i, w := range batch {
			r, err := readResp(br, w.method)
			if err != nil {
				t.Fatalf("answer %d (%s): %v", i, firstLine(w.raw), err)
			}
			if r.Status != w.status || (w.status != 404 && r.Body != w.body) {
				t.Fatalf("answer %d (%s): status %d, %d body bytes; want %d, %d", i, firstLine(w.raw), r.Status, len(r.Body), w.status, len(w.body))
			}
		}
		if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("after the last answer: %d bytes, %v; want end of stream", n, err)
		}
	})
	t.Run("ByteAtATime", func(t *testing.T) {
		c := dial(t, s.addr)
		defer c.Close()
		msg := get("/hello.txt") + get("/hello.txt", "Connection: close")
		for i := 0; i < len(msg); i++ {
			if _, err := c.Write([]byte{msg[i]}); err != nil {
				t.Fatal(err)
			}
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			r, err := readResp(br, "GET")
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, r, 200)
		}
	})
}

func (s *suite) targets(t *testing.T) {
	cases := []struct {
		name, raw string
		status    int
		body      string
	}{
		{"AbsoluteForm", "GET http://example.com/hello.txt HTTP/1.1\r\nHost: example.com\r\n\r\n", 200, helloTxt},
		{"AbsoluteFormEmptyPath", "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 200, indexHTML},
		{"Query", get("/hello.txt?v=1"), 200, helloTxt},
		{"LeadingEmptyLine", "\r\n" + get("/hello.txt"), 200, helloTxt},
		{"BareLF", "GET /hello.txt HTTP/1.1\nHost: test\n\n", 200, helloTxt},
		{"NoLeadingSlash", "GET hello.txt HTTP/1.1\r\nHost: test\r\n\r\n", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, s.addr, tc.raw)
			wantStatus(t, r, tc.status)
			if tc.body != "" && r.Body != tc.body {
				t.Errorf("body %q, want %q", r.Body, tc.body)
			}
		})
	}
}

func (s *suite) hostRules(t *testing.T) {
	cases := []struct {
		name, raw string
		status    int
	}{
		{"HTTP11WithoutHost", "GET / HTTP/1.1\r\n\r\n", 400},
		{"TwoHosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"BadHost", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"HostWithSlash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"HTTP10WithoutHost", "GET / HTTP/1.0\r\n\r\n", 200},
		{"HostWithPort", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 200},
		{"IPv6Host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, closed := exchange(t, s.addr, tc.raw)
			if len(rs) != 1 {
				t.Fatalf("%d responses", len(rs))
			}
			wantStatus(t, rs[0], tc.status)
			if tc.status == 400 && !closed {
				t.Error("connection left open after 400")
			}
		})
	}
}

func (s *suite) hostilePaths(t *testing.T) {
	cases := []struct {
		path   string
		status int
	}{
		{"/../../etc/passwd", 400},
		{"/..", 400},
		{"/dir/../hello.txt", 400},
		{"/./hello.txt", 400},
		{"/%2e%2e/%2e%2e/etc/passwd", 400},
		{"/%2E%2E/etc/passwd", 400},
		{"/..%2f..%2fetc%2fpasswd", 400},
		{"/dir%2f..%2f..%2fetc/passwd", 400},
		{"/hello.txt%00.html", 400},
		{"/%00", 400},
		{"/a%0d%0aSet-Cookie:x", 400},
		{`/..\..\etc\passwd`, 400},
		{"/%5c..%5cetc", 400},
		{"/%zz", 400},
		{"/%2", 400},
		{"/%252e%252e", 200}, // decoded once: the literal file "%2e%2e"
		{"/%252e%252e/etc/passwd", 404},
		{"/link-out.txt", 404},
		{"/dir-out/secret.txt", 404},
		{"/link-in.txt", 200},
		{"/dir/sub/up.txt", 200}, // a symlink that stays inside the root
		{"/fifo", 404},
		{"/etc/passwd", 404},
		{"/.hidden", 404},
		{"/.git/config", 404},
		{"/dir/.hidden", 404},
		{"/%2ehidden", 404},
		{"/.well-known/security.txt", 200},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r := one(t, s.addr, get(tc.path))
			wantStatus(t, r, tc.status)
			if strings.Contains(r.Body, "outside") || strings.Contains(r.Body, "root:") {
				t.Fatalf("served a file from outside the root: %q", r.Body)
			}
		})
	}
	t.Run("ServerStillUp", func(t *testing.T) {
		wantStatus(t, one(t, s.addr, get("/hello.txt")), 200)
	})
}

func (s *suite) malformed(t *testing.T) {
	cases := []struct {
		name, raw string
		status    int
	}{
		{"Garbage", "hello\r\n\r\n", 400},
		{"TwoSpaces", "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400},
		{"NoVersion", "GET /\r\nHost: t\r\n\r\n", 400},
		{"BadVersion", "GET / HTTP/1.x\r\nHost: t\r\n\r\n", 400},
		{"LowercaseVersion", "GET / http/1.1\r\nHost: t\r\n\r\n", 400},
		{"ControlInTarget", "GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n", 400},
		{"ObsFold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  continued\r\n\r\n", 400},
		{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400},
		{"NoColon", "GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n", 400},
		{"EmptyName", "GET / HTTP/1.1\r\nHost: t\r\n: v\r\n\r\n", 400},
		{"BadNameChar", "GET / HTTP/1.1\r\nHost: t\r\nX(y): v\r\n\r\n", 400},
		{"NULInValue", "GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400},
		{"BareCR", "GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400},
		{"TEAndCL", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
		{"DifferingCL", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"DifferingCLList", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 2\r\n\r\nab", 400},
		{"NegativeCL", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400},
		{"PlusCL", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: +1\r\n\r\nx", 400},
		{"HugeCL", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"UnknownTE", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"TEinHTTP10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, closed := exchange(t, s.addr, tc.raw+get("/hello.txt"))
			if len(rs) != 1 {
				t.Fatalf("%d responses, want exactly 1 (the error; nothing after it)", len(rs))
			}
			wantStatus(t, rs[0], tc.status)
			if !closed {
				t.Error("connection left open after a malformed request")
			}
			wantHeader(t, rs[0], "Connection", "close")
		})
	}
	t.Run("SameCLTwiceIsFine", func(t *testing.T) {
		r := one(t, s.addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab")
		wantStatus(t, r, 200)
	})
}

func (s *suite) limits(t *testing.T) {
	t.Run("URITooLong", func(t *testing.T) {
		rs, closed := exchange(t, s.addr, get("/"+strings.Repeat("a", 9000)))
		if len(rs) != 1 || !closed {
			t.Fatalf("%d responses, closed %v", len(rs), closed)
		}
		wantStatus(t, rs[0], 414)
	})
	t.Run("URITooLongNeverEnding", func(t *testing.T) {
		// The request line never ends: weft must not buffer without bound.
		c := dial(t, s.addr)
		defer c.Close()
		go io.WriteString(c, "GET /"+strings.Repeat("a", 64<<10))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r, err := readResp(bufio.NewReader(c), "GET")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, r, 414)
	})
	t.Run("TooManyFields", func(t *testing.T) {
		// --max-header-fields (100 by default) is settable.
		srv := s.start(t, Options{Site: site.Config{Root: s.root}, Engine: engine.Config{Limits: http1.Limits{MaxHeaderCount: 5}}})
		fields := func(n int) []string {
			var h []string
			for i := 0; i < n; i++ {
				h = append(h, fmt.Sprintf("X-F%d: v", i))
			}
			return h
		}
		wantStatus(t, one(t, srv.Addr, get("/hello.txt", fields(4)...)), 200) // with Host, 5
		rs, closed := exchange(t, srv.Addr, get("/hello.txt", fields(5)...))
		if len(rs) != 1 || !closed {
			t.Fatalf("%d responses, closed %v", len(rs), closed)
		}
		wantStatus(t, rs[0], 431)
		wantStatus(t, one(t, s.addr, get("/hello.txt", fields(99)...)), 200)
		wantStatus(t, one(t, s.addr, get("/hello.txt", fields(100)...)), 431)
	})
	t.Run("HeaderTooLarge", func(t *testing.T) {
		rs, closed := exchange(t, s.addr, get("/", "X-Big: "+strings.Repeat("b", 20<<10)))
		if len(rs) != 1 || !closed {
			t.Fatalf("%d responses, closed %v", len(rs), closed)
		}
		wantStatus(t, rs[0], 431)
	})
	t.Run("TooManyFields", func(t *testing.T) {
		var h []string
		for i := 0; i < 200; i++ {
			h = append(h, fmt.Sprintf("X-%d: v", i))
		}
		rs, _ := exchange(t, s.addr, get("/", h...))
		if len(rs) != 1 {
			t.Fatalf("%d responses", len(rs))
		}
		wantStatus(t, rs[0], 431)
	})
	t.Run("CustomHeadLimit", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: s.root}, Engine: engine.Config{Limits: limits(1024)}})
		wantStatus(t, one(t, srv.Addr, get("/", "X-Big: "+strings.Repeat("b", 1100))), 431)
		wantStatus(t, one(t, srv.Addr, get("/", "X-Big: "+strings.Repeat("b", 500))), 200)
	})
}

func (s *suite) bodies(t *testing.T) {
	t.Run("SmallBodyDiscarded", func(t *testing.T) {
		raw := "GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nHELLO" + get("/style.css", "Connection: close")
		rs, _ := exchange(t, s.addr, raw)
		if len(rs) != 2 {
			t.Fatalf("%d responses, want 2 (the body must not be read as a request)", len(rs))
		}
		wantStatus(t, rs[0], 200)
		wantHeader(t, rs[1], "Content-Type", "text/css; charset=utf-8")
	})
	t.Run("TooLarge", func(t *testing.T) {
		rs, closed := exchange(t, s.addr, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n")
		if len(rs) != 1 || !closed {
			t.Fatalf("%d responses, closed %v", len(rs), closed)
		}
		wantStatus(t, rs[0], 413)
	})
	// Chunked bodies are decoded and dropped (RFC 9112 §7.1), extensions
	// and trailers ignored, and the connection goes on: no body byte is
	// ever parsed as a request.
	t.Run("ChunkedDiscarded", func(t *testing.T) {
		body := "5;ext=1\r\nhello\r\n10\r\nGET / HTTP/1.1\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n"
		raw := "POST /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
			"GET /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get("/style.css", "Connection: close")
		rs, _ := exchange(t, s.addr, raw)
		if len(rs) != 3 {
			t.Fatalf("%d responses, want 3", len(rs))
		}
		wantStatus(t, rs[0], 405)
		wantStatus(t, rs[1], 200)
		wantHeader(t, rs[2], "Content-Type", "text/css; charset=utf-8")
	})
	t.Run("ChunkedSplit", func(t *testing.T) {
		// The body a byte at a time: the decoder keeps its place.
		c := dial(t, s.addr)
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		raw := "GET /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + get("/style.css", "Connection: close")
		for i := 0; i < len(raw); i++ {
			if _, err := c.Write([]byte{raw[i]}); err != nil {
				t.Fatal(err)
			}
		}
		br := bufio.NewReader(c)
		r1, err := readResp(br, "GET")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, r1, 200)
		r2, err := readResp(br, "GET")
		if err != nil {
			t.Fatal(err)
		}
		wantHeader(t, r2, "Content-Type", "text/css; charset=utf-8")
	})
	// Malformed framing, or a body over --max-body-bytes, closes the
	// connection once the request is answered: where the next request
	// would start is unknown. The answer itself depends on the head only,
	// not on how much of the body had arrived.
	for _, tc := range []struct{ name, body string }{
		{"ChunkedMalformed", "zz\r\nhello\r\n0\r\n\r\n"},
		{"ChunkedBareLF", "5\nhello\r\n0\r\n\r\n"},
		{"ChunkedTooLarge", "100000\r\n" + strings.Repeat("a", 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, closed := exchange(t, s.addr, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"+tc.body+get("/", ""))
			if len(rs) != 1 || !closed {
				t.Fatalf("%d responses, closed %v; want one, then a close", len(rs), closed)
			}
			wantStatus(t, rs[0], 405)
		})
	}
}

// slowReader reads a little at a time, pausing now and then.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(50 * time.Microsecond)
	return s.r.Read(p[:min(len(p), 4<<10)])
}

// lingeringClose: an answer given before the client's input was read
// (the body of a 413, what follows a malformed request) must reach the
// client. Closing a socket with unread input sends a reset, which may
// destroy the answer before the client reads it, so the server half-closes
// and keeps reading until the client closes (RFC 9112 §9.6).
func (s *suite) lingeringClose(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		status     int
	}{
		{"TooLargeBody", "POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n", 413},
		{"Malformed", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400},
		{"Chunked", "POST /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("\x00", 100), 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.addr)
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tc.head); err != nil {
				t.Fatal(err)
			}
			// Input the server will not read, sent before its answer
			// arrives: after the close, a reset would follow.
			if _, err := c.Write(make([]byte, 256<<10)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // let the server answer and close
			all, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("after %d bytes: %v (the answer must end with a clean close, not a reset)", len(all), err)
			}
			r, err := readResp(bufio.NewReader(strings.NewReader(string(all))), "")
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			wantStatus(t, r, tc.status)
			if tc.name != "Chunked" {
				// The chunked body's framing fails only after the
				// answer was queued: the close comes without notice.
				wantHeader(t, r, "Connection", "close")
			}
			// The server still reads (and drops) what the client sends.
			time.Sleep(50 * time.Millisecond)
			if _, err := c.Write(make([]byte, 64<<10)); err != nil {
				t.Fatalf("sending after the answer: %v (the server closed instead of lingering)", err)
			}
		})
	}
	t.Run("BoundedInTime", func(t *testing.T) {
		// A client that never stops sending is cut off, not served
		// forever: lingering ends after h1conn.LingerTime, or sooner
		// with a shorter idle timeout (1s here, to keep the suite fast).
		srv := s.start(t, Options{Site: site.Config{Root: s.root}, Engine: engine.Config{IdleTimeout: time.Second}})
		c := dial(t, srv.Addr)
		defer c.Close()
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000000\r\n\r\n")
		stop := time.Now().Add(10 * time.Second)
		chunk := make([]byte, 16<<10)
		for time.Now().Before(stop) {
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write(chunk); err != nil {
				if isTimeout(err) {
					t.Fatal("the server stopped reading but kept the connection open")
				}
				return // the server closed the connection
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("still accepting input 10s after answering 413")
	})
}

func (s *suite) largeFile(t *testing.T) {
	bigb, _ := os.ReadFile(filepath.Join(s.root, "big.bin"))
	big := string(bigb)
	r := one(t, s.addr, get("/big.bin"))
	wantStatus(t, r, 200)
	if r.Body != big {
		t.Fatalf("body differs: %d bytes, want %d", len(r.Body), len(big))
	}
	r = one(t, s.addr, get("/big.bin", "Range: bytes=500000-500099"))
	wantStatus(t, r, 206)
	if r.Body != big[500000:500100] {
		t.Fatal("range of a large file differs")
	}
	t.Run("SlowReaderLastResponse", func(t *testing.T) {
		// The last response on a connection, larger than a socket buffer
		// and read slowly through a small receive window: written in
		// pieces as the client drains it, then a clean end of stream.
		root := t.TempDir()
		huge := make([]byte, 8<<20)
		for i := range huge {
			huge[i] = byte(i * 7 >> 8)
		}
		must(t, os.WriteFile(filepath.Join(root, "huge.bin"), huge, 0o644))
		srv := s.start(t, Options{Site: site.Config{Root: root}})
		c := DialSmallWindow(t, srv.Addr, 8<<10)
		defer c.Close()
		io.WriteString(c, get("/huge.bin", "Range: bytes=0-2999999,4000000-7999999", "Connection: close"))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		var all []byte
		buf := make([]byte, 64<<10)
		for i := 0; ; i++ {
			n, err := c.Read(buf)
			all = append(all, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes: %v", len(all), err)
			}
			if i%8 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		r, err := readResp(bufio.NewReader(strings.NewReader(string(all))), "GET")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, r, 206)
		for _, part := range [][]byte{huge[:3000000], huge[4000000:8000000]} {
			if !strings.Contains(r.Body, string(part)) {
				t.Fatal("a part of the multipart body is missing or damaged")
			}
		}
		if len(r.Body) > 7000000+1000 {
			t.Fatalf("body of %d bytes for 7,000,000 bytes of parts", len(r.Body))
		}
	})
}

func (s *suite) dotfiles(t *testing.T) {
	srv := s.start(t, Options{Site: site.Config{Root: s.root, Dotfiles: true}})
	r := one(t, srv.Addr, get("/.hidden"))
	wantStatus(t, r, 200)
	wantStatus(t, one(t, srv.Addr, get("/link-out.txt")), 404) // dotfiles do not open the root
}

func (s *suite) netHTTP(t *testing.T) {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := 0; i < 5; i++ {
		resp, err := c.Get("http://" + s.addr + "/hello.txt")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != helloTxt {
			t.Fatalf("status %d body %q", resp.StatusCode, b)
		}
	}
	resp, err := c.Get("http://" + s.addr + "/dir")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/dir/" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Go's own range machinery agrees with weft's.
	rq, _ := http.NewRequest("GET", "http://"+s.addr+"/data.bin", nil)
	rq.Header.Set("Range", "bytes=100-199")
	resp, err = c.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(b) != dataBin[100:200] {
		t.Errorf("range: %d, %d bytes", resp.StatusCode, len(b))
	}
}

func (s *suite) curl(t *testing.T) {
	path, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("WEFT_TEST_REQUIRE_CURL") != "" {
			t.Fatal("curl not installed and WEFT_TEST_REQUIRE_CURL is set")
		}
		t.Skip("curl not installed")
	}
	out, err := exec.Command(path, "-sS", "--fail", "http://"+s.addr+"/hello.txt", "http://"+s.addr+"/hello.txt").Output()
	if err != nil || string(out) != helloTxt+helloTxt {
		t.Fatalf("curl: %v, %q", err, out)
	}
	out, err = exec.Command(path, "-sS", "-r", "0-4", "http://"+s.addr+"/data.bin").Output()
	if err != nil || string(out) != dataBin[:5] {
		t.Fatalf("curl range: %v, %q", err, out)
	}
	out, err = exec.Command(path, "-sS", "-L", "-o", "/dev/null", "-w", "%{http_code} %{num_redirects}", "http://"+s.addr+"/dir").Output()
	if err != nil || string(out) != "200 1" {
		t.Fatalf("curl -L: %v, %q", err, out)
	}
}

func limits(head int) (l http1.Limits) {
	l.MaxHeadBytes = head
	return l
}

func (s *suite) slowloris(t *testing.T) {
	srv := s.start(t, Options{Site: site.Config{Root: s.root}, Engine: engine.Config{ReadHeaderTimeout: 300 * time.Millisecond}})
	c := dial(t, srv.Addr)
	defer c.Close()
	// Trickle a head that never ends, a byte every 100ms: the deadline runs
	// from the first byte, so trickling does not extend it.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		msg := "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + strings.Repeat("z", 1000)
		for i := 0; i < len(msg); i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write([]byte{msg[i]}); err != nil {
				return
			}
		}
	}()
	if !closedSoon(c, 5*time.Second) {
		t.Fatal("slowloris connection not dropped within 5s (header timeout 300ms)")
	}
	// Others are still served.
	wantStatus(t, one(t, srv.Addr, get("/hello.txt")), 200)
}

func (s *suite) idleTimeout(t *testing.T) {
	srv := s.start(t, Options{Site: site.Config{Root: s.root}, Engine: engine.Config{IdleTimeout: 300 * time.Millisecond}})
	c := dial(t, srv.Addr)
	defer c.Close()
	io.WriteString(c, get("/hello.txt"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readResp(bufio.NewReader(c), "GET"); err != nil {
		t.Fatal(err)
	}
	if !closedSoon(c, 5*time.Second) {
		t.Fatal("idle keep-alive connection not closed within 5s (idle timeout 300ms)")
	}
}

func (s *suite) maxConns(t *testing.T) {
	if !s.caps.Concurrent {
		t.Skip("this engine serves one connection at a time by design; its own tests cover that")
	}
	// Each of Workers processes enforces MaxConns=1 on its own (as nginx's
	// worker_connections). Workers clients hold connections in mid-request
	// (half a head sent), so none is idle and none may be reclaimed; then
	// a newcomer asks. With one process, the event-loop engines (Refuses)
	// must answer it 503 exactly; the others leave it in the backlog.
	workers := max(s.caps.Workers, 1)
	srv := s.start(t, Options{Site: site.Config{Root: s.root}, Engine: engine.Config{MaxConns: 1}})
	var conns []net.Conn
	for i := 0; i < workers; i++ {
		c := dial(t, srv.Addr)
		defer c.Close()
		conns = append(conns, c)
		io.WriteString(c, "GET /hello.txt HTTP/1.1\r\n")
	}
	// Let the server accept them before the newcomer (an ordering, not a
	// timed assertion: a late accept only makes the check below looser).
	time.Sleep(300 * time.Millisecond)
	nc := dial(t, srv.Addr)
	defer nc.Close()
	io.WriteString(nc, get("/hello.txt"))
	nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	r, err := readResp(bufio.NewReader(nc), "GET")
	switch {
	case s.caps.Refuses && workers == 1:
		if err != nil {
			t.Fatalf("newcomer at MaxConns=1 with the only connection busy: %v, want a 503", err)
		}
		wantStatus(t, r, 503)
	case err != nil:
		// waiting in the backlog; with several workers, closed after
		// a 503 not read in full
	case workers == 1 && r.Status != 503:
		t.Fatalf("newcomer at MaxConns=1 with the only connection busy: status %d", r.Status)
	case r.Status != 503 && r.Status != 200:
		// With several workers the busy clients may all have gone to
		// one of them, and the newcomer to a free one.
		t.Fatalf("newcomer at MaxConns=1: status %d", r.Status)
	}
	// The busy clients finish their requests and are answered.
	served := 0
	for i, c := range conns {
		io.WriteString(c, "Host: test\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r, err := readResp(bufio.NewReader(c), "GET")
		switch {
		case err == nil && r.Status == 200:
			served++
		case workers == 1:
			t.Fatalf("busy client %d: %v, %+v, want its 200", i, err, r)
		}
	}
	if served < 1 {
		t.Fatalf("none of %d busy clients served", workers)
	}
	nc.Close()
	for _, c := range conns {
		c.Close()
	}
	// Once they leave, a new client is served.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dial(t, srv.Addr)
		io.WriteString(c, get("/hello.txt"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r, err := readResp(bufio.NewReader(c), "GET")
		c.Close()
		if err == nil && r.Status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no client served after the others left: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cacheFreshness: a cached file that is rewritten, replaced by rename,
// renamed away or deleted is served fresh within the documented bound
// (the cache's 1s validity; at once where fsnotify works).
func (s *suite) cacheFreshness(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "f.txt")
	must(t, os.WriteFile(p, []byte("version 1\n"), 0o644))
	srv := s.start(t, Options{Site: site.Config{Root: root}})
	eventually := func(what, want string, status int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second) // bound 1s, plus slack for a busy machine
		for {
			r := one(t, srv.Addr, get("/f.txt"))
			if r.Status == status && (status != 200 || r.Body == want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %d %q after 3s, want %d %q", what, r.Status, r.Body, status, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i := 0; i < 3; i++ { // warm the cache
		wantStatus(t, one(t, srv.Addr, get("/f.txt")), 200)
	}
	must(t, os.WriteFile(p, []byte("version 2\n"), 0o644)) // same size, new content
	eventually("rewritten in place", "version 2\n", 200)
	tmp := filepath.Join(root, "f.tmp")
	must(t, os.WriteFile(tmp, []byte("version three\n"), 0o644))
	must(t, os.Rename(tmp, p)) // atomic replace, as deploy tools do
	eventually("replaced by rename", "version three\n", 200)
	must(t, os.Rename(p, filepath.Join(root, "g.txt")))
	eventually("renamed away", "", 404)
	must(t, os.WriteFile(p, []byte("back\n"), 0o644))
	eventually("recreated", "back\n", 200)
	must(t, os.Remove(p))
	eventually("deleted", "", 404)
}

// slowReaders: clients that request a large file and do not read it hold
// their connections, but no one else waits for them.
func (s *suite) slowReaders(t *testing.T) {
	if !s.caps.Concurrent {
		t.Skip("this engine serves one connection at a time by design")
	}
	root := t.TempDir()
	big := make([]byte, 32<<20)
	for i := range big {
		big[i] = byte(i)
	}
	must(t, os.WriteFile(filepath.Join(root, "huge.bin"), big, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "small.txt"), []byte(helloTxt), 0o644))
	srv := s.start(t, Options{Site: site.Config{Root: root}})
	for i := 0; i < 8; i++ {
		c := dial(t, srv.Addr)
		defer c.Close()
		io.WriteString(c, get("/huge.bin"))
		// Read only the first bytes, then stall.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for i := 0; i < 20; i++ {
		r := one(t, srv.Addr, get("/small.txt"))
		wantStatus(t, r, 200)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("20 small requests took %v beside stalled readers", d)
	}
}

// writeTimeout: a client that stops reading is dropped once the server
// has waited WriteTimeout for it to accept more bytes.
func (s *suite) writeTimeout(t *testing.T) {
	root := t.TempDir()
	const size = 64 << 20
	must(t, os.WriteFile(filepath.Join(root, "huge.bin"), make([]byte, size), 0o644))
	srv := s.start(t, Options{Site: site.Config{Root: root}, Engine: engine.Config{WriteTimeout: 300 * time.Millisecond}})
	c := dial(t, srv.Addr)
	defer c.Close()
	io.WriteString(c, get("/huge.bin"))
	time.Sleep(2 * time.Second) // read nothing: the socket buffers fill, the server waits
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if isTimeout(err) {
		t.Fatalf("connection still open 2s after a 300ms write timeout (%d bytes read)", n)
	}
	if n >= size {
		t.Fatalf("the whole %d-byte body arrived: the stalled client was not dropped", n)
	}
	t.Run("TricklingInputDoesNotHold", func(t *testing.T) {
		// Input is not progress: a client that reads nothing but sends
		// a byte now and then is dropped all the same.
		c := dial(t, srv.Addr)
		defer c.Close()
		io.WriteString(c, get("/huge.bin"))
		next := "GET /huge.bin HTTP/1.1\r\nHost: t\r\nX-Trickle: " + strings.Repeat("t", 100)
		for i := 0; i < 25 && i < len(next); i++ { // 2.5 s, over 8 write timeouts
			time.Sleep(100 * time.Millisecond)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte{next[i]}); err != nil {
				break // reset: the server has dropped it
			}
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if isTimeout(err) {
			t.Fatalf("connection still open after 2.5s of trickled input and a 300ms write timeout (%d bytes read)", n)
		}
		if n >= size {
			t.Fatalf("the whole %d-byte body arrived", n)
		}
	})
	t.Run("SteadySlowReaderNotCut", func(t *testing.T) {
		// The timeout is for a client that accepts nothing, not a
		// bound on a whole download: a client that keeps reading, if
		// slowly, gets every byte however long it takes (here about
		// ten write timeouts).
		const want = 4 << 20
		must(t, os.WriteFile(filepath.Join(root, "four.bin"), make([]byte, want), 0o644))
		c := DialSmallWindow(t, srv.Addr, 32<<10)
		defer c.Close()
		io.WriteString(c, get("/four.bin", "Connection: close"))
		buf := make([]byte, 32<<10)
		var got int64
		var rerr error
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		for rerr == nil {
			time.Sleep(20 * time.Millisecond) // about 1.6 MB/s at most
			var n int
			n, rerr = c.Read(buf)
			got += int64(n)
		}
		// The head comes first; the body must be whole.
		if got < want {
			t.Fatalf("got %d bytes of a %d-byte body: a download that kept moving was cut (%v)", got, want, rerr)
		}
	})
}

func (s *suite) gracefulShutdown(t *testing.T) {
	srv := s.start(t, Options{Site: site.Config{Root: s.root}})
	// An idle keep-alive connection, and a download in progress that the
	// client reads slowly.
	idle := dial(t, srv.Addr)
	defer idle.Close()
	io.WriteString(idle, get("/hello.txt"))
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readResp(bufio.NewReader(idle), "GET"); err != nil {
		t.Fatal(err)
	}
	dl := dial(t, srv.Addr)
	defer dl.Close()
	br, stopped := stopDuringDownload(t, srv, dl, "/big.bin")
	if !closedSoon(idle, 5*time.Second) {
		t.Error("idle connection not closed by shutdown")
	}
	dl.SetReadDeadline(time.Now().Add(10 * time.Second))
	r, err := readResp(br, "GET")
	if err != nil {
		t.Fatalf("in-flight download cut by shutdown: %v", err)
	}
	if len(r.Body) != 1<<20 {
		t.Fatalf("download %d bytes, want %d", len(r.Body), 1<<20)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting after shutdown")
	}
}
