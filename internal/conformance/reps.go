package conformance

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/site"
)

// repTree writes the files of the representation cases: a script worth
// compressing, a stylesheet with precompressed sidecars, stale and
// orphaned sidecars, a file too small to compress and an image.
func repTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	var js strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&js, "export function f%d(x) { return x * %d + %q; }\n", i, i, "weft")
	}
	css := strings.Repeat("body { margin: 0; padding: 0; font: 15px/1.5 system-ui; }\n", 200)
	write := func(name string, data []byte, mod time.Time) {
		p := filepath.Join(root, name)
		must(t, os.WriteFile(p, data, 0o644))
		must(t, os.Chtimes(p, mod, mod))
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	write("app.js", []byte(js.String()), old)
	write("app.3f9a1c2b.js", []byte(js.String()), old)
	write("index.html", []byte("<!doctype html><title>reps</title>\n"), old)
	write("side.css", []byte(css), old)
	for _, c := range codec.Encoded {
		enc, err := codec.Compress(c, codec.Best, []byte(css))
		must(t, err)
		write("side.css"+c.Ext(), enc, old)
	}
	gz, err := codec.Compress(codec.Gzip, codec.Best, []byte(css))
	must(t, err)
	write("fresh.dat", []byte(css), old)
	write("fresh.dat.gz", gz, old)
	write("stale.dat", []byte(css), old)
	write("stale.dat.gz", gz, old.Add(-time.Minute)) // written before the file last changed
	write("orphan.js.gz", gz, old)
	write("tiny.js", []byte("let x = 1;\n"), old)
	write("pic.png", bytes.Repeat([]byte("\x89PNG\r\n\x1a\n"), 400), old)
	must(t, os.Mkdir(filepath.Join(root, "assets"), 0o755))
	write("assets/x.css", []byte(css), old)
	write("assets/x.css.br", gz, old) // what it holds does not matter to a listing
	write("assets/lone.gz", gz, old)  // no original: a file of its own
	return root
}

const browser = "Accept-Encoding: gzip, deflate, br, zstd"

// variant asks for path with the given Accept-Encoding until the
// response comes in coding want: the first requests may get identity
// while the variant is built off the event loops.
func variant(t *testing.T, addr, path, ae, want string, extra ...string) *Resp {
	t.Helper()
	return until(t, addr, get(path, append([]string{"Accept-Encoding: " + ae}, extra...)...), encodedAs(want))
}

// until sends raw on new connections until ok holds for the answer (or
// 10s pass) and returns the last answer. With prefork workers, each has
// its own cache, and the one a connection lands on may not have built a
// variant that another has: it sends a stand-in, correctly, meanwhile.
func until(t *testing.T, addr, raw string, ok func(*Resp) bool) *Resp {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := one(t, addr, raw)
		if ok(r) || time.Now().After(deadline) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func encodedAs(c string) func(*Resp) bool {
	return func(r *Resp) bool { return r.Header.Get("Content-Encoding") == c }
}

// decoded checks that r's body, in its Content-Encoding, decodes to want.
func decoded(t *testing.T, r *Resp, want []byte) {
	t.Helper()
	c := map[string]codec.Coding{"br": codec.Brotli, "zstd": codec.Zstd, "gzip": codec.Gzip}[r.Header.Get("Content-Encoding")]
	body := []byte(r.Body)
	if c != codec.Identity {
		var err error
		if body, err = codec.Decompress(c, body); err != nil {
			t.Fatalf("%s body does not decode: %v\n%s", c, err, r.Raw)
		}
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("body (%s) decodes to %d bytes, not the file's %d\n%s", r.Header.Get("Content-Encoding"), len(body), len(want), r.Raw)
	}
}

func (s *suite) representations(t *testing.T) {
	root := repTree(t)
	srv := s.start(t, Options{Site: site.Config{Root: root, Listing: true}})
	addr := srv.Addr
	js, _ := os.ReadFile(filepath.Join(root, "app.js"))
	css, _ := os.ReadFile(filepath.Join(root, "side.css"))

	t.Run("OnTheFly", func(t *testing.T) {
		for _, tc := range []struct{ ae, want string }{
			{"gzip, deflate, br, zstd", "br"}, // equal weights: the server's preference
			{"zstd", "zstd"},
			{"gzip", "gzip"},
			{"x-gzip", "gzip"},
			{"gzip;q=1.0, br;q=0.5", "gzip"}, // the client's weights first
			{"*", "br"},
		} {
			r := variant(t, addr, "/app.js", tc.ae, tc.want)
			wantStatus(t, r, 200)
			if r.Header.Get("Content-Encoding") != tc.want {
				t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want %q\n%s", tc.ae, r.Header.Get("Content-Encoding"), tc.want, r.Raw)
			}
			wantHeader(t, r, "Content-Type", "text/javascript; charset=utf-8")
			wantHeader(t, r, "Vary", "Accept-Encoding")
			wantHeader(t, r, "Content-Length", fmt.Sprint(len(r.Body)))
			if !strings.HasSuffix(r.Header.Get("ETag"), "-"+tc.want+`"`) {
				t.Errorf("ETag %q of the %s variant", r.Header.Get("ETag"), tc.want)
			}
			if len(r.Body) >= len(js)/2 {
				t.Errorf("%s variant: %d bytes of %d", tc.want, len(r.Body), len(js))
			}
			decoded(t, r, js)
		}
	})
	t.Run("Identity", func(t *testing.T) {
		variant(t, addr, "/app.js", browser, "br") // built
		for _, ae := range []string{"", "identity", "gzip;q=0, br;q=0, zstd;q=0", "*;q=0", "compress, deflate", "gzip;q=0.5, identity"} {
			hdr := []string{}
			if ae != "" {
				hdr = append(hdr, "Accept-Encoding: "+ae)
			}
			r := one(t, addr, get("/app.js", hdr...))
			wantStatus(t, r, 200)
			if ce := r.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Accept-Encoding %q: Content-Encoding %q, want none", ae, ce)
			}
			wantHeader(t, r, "Vary", "Accept-Encoding") // the file has other representations
			decoded(t, r, js)
		}
	})
	t.Run("NoVaryWithoutOtherRepresentations", func(t *testing.T) {
		for _, p := range []string{"/tiny.js", "/pic.png"} {
			r := one(t, addr, get(p, browser))
			wantStatus(t, r, 200)
			for _, h := range []string{"Vary", "Content-Encoding"} {
				if v := r.Header.Get(h); v != "" {
					t.Errorf("%s: %s %q, want none", p, h, v)
				}
			}
		}
	})
	t.Run("ValidatorsPerRepresentation", func(t *testing.T) {
		br := variant(t, addr, "/app.js", "br", "br")
		id := one(t, addr, get("/app.js"))
		if br.Header.Get("ETag") == id.Header.Get("ETag") {
			t.Fatalf("br and identity share ETag %s", id.Header.Get("ETag"))
		}
		// A 304 for one representation never confirms the other.
		r := variant(t, addr, "/app.js", "br", "br", "If-None-Match: "+id.Header.Get("ETag"))
		wantStatus(t, r, 200)
		wantHeader(t, r, "Content-Encoding", "br")
		r = one(t, addr, get("/app.js", "If-None-Match: "+br.Header.Get("ETag")))
		wantStatus(t, r, 200)
		decoded(t, r, js)
		// 304s name their representation and say Vary.
		r = until(t, addr, get("/app.js", "Accept-Encoding: br", "If-None-Match: "+br.Header.Get("ETag")), func(r *Resp) bool { return r.Status == 304 })
		wantStatus(t, r, 304)
		wantHeader(t, r, "ETag", br.Header.Get("ETag"))
		wantHeader(t, r, "Vary", "Accept-Encoding")
		wantHeader(t, r, "Cache-Control", "no-cache")
		r = one(t, addr, get("/app.js", "If-None-Match: "+id.Header.Get("ETag")))
		wantStatus(t, r, 304)
		wantHeader(t, r, "Vary", "Accept-Encoding")
	})
	t.Run("RangesOfAVariant", func(t *testing.T) {
		full := variant(t, addr, "/app.js", "gzip", "gzip")
		tag := full.Header.Get("ETag")
		r := variant(t, addr, "/app.js", "gzip", "gzip", "Range: bytes=10-109")
		wantStatus(t, r, 206)
		wantHeader(t, r, "Content-Encoding", "gzip")
		wantHeader(t, r, "Content-Range", fmt.Sprintf("bytes 10-109/%d", len(full.Body)))
		wantHeader(t, r, "Vary", "Accept-Encoding")
		if r.Body != full.Body[10:110] {
			t.Errorf("range of the gzip variant is not those bytes of it")
		}
		// If-Range per representation: the gzip tag holds for gzip.
		r = variant(t, addr, "/app.js", "gzip", "gzip", "Range: bytes=0-9", "If-Range: "+tag)
		wantStatus(t, r, 206)
		id := one(t, addr, get("/app.js"))
		r = variant(t, addr, "/app.js", "gzip", "gzip", "Range: bytes=0-9", "If-Range: "+id.Header.Get("ETag"))
		wantStatus(t, r, 200)
		wantHeader(t, r, "Content-Encoding", "gzip")
		decoded(t, r, js)
		// Several ranges of the variant: multipart with its encoding.
		r = variant(t, addr, "/app.js", "gzip", "gzip", "Range: bytes=0-9,20-29")
		wantStatus(t, r, 206)
		wantHeader(t, r, "Content-Encoding", "gzip")
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/byteranges") || !strings.Contains(r.Body, fmt.Sprintf("bytes 20-29/%d", len(full.Body))) {
			t.Errorf("multipart ranges of the variant:\n%s%q", r.Raw, r.Body)
		}
	})
	t.Run("Head", func(t *testing.T) {
		g := variant(t, addr, "/app.js", "zstd", "zstd")
		c := until(t, addr, req("HEAD", "/app.js", "Accept-Encoding: zstd"), encodedAs("zstd"))
		for _, h := range []string{"Content-Encoding", "Content-Length", "ETag", "Vary"} {
			if c.Header.Get(h) != g.Header.Get(h) {
				t.Errorf("HEAD %s %q, GET %q", h, c.Header.Get(h), g.Header.Get(h))
			}
		}
	})
	t.Run("Sidecars", func(t *testing.T) {
		for _, c := range codec.Encoded {
			r := one(t, addr, get("/side.css", "Accept-Encoding: "+c.Token()))
			wantStatus(t, r, 200)
			wantHeader(t, r, "Content-Encoding", c.Token())
			wantHeader(t, r, "Content-Type", "text/css; charset=utf-8") // the original's
			wantHeader(t, r, "Vary", "Accept-Encoding")
			sc, _ := os.ReadFile(filepath.Join(root, "side.css"+c.Ext()))
			if r.Body != string(sc) {
				t.Errorf("%s: body is not the sidecar's bytes (%d, want %d)", c, len(r.Body), len(sc))
			}
			decoded(t, r, css)
		}
		r := one(t, addr, get("/fresh.dat", "Accept-Encoding: gzip"))
		wantHeader(t, r, "Content-Encoding", "gzip")
		wantHeader(t, r, "Content-Type", "application/octet-stream")
		r = one(t, addr, get("/stale.dat", "Accept-Encoding: gzip"))
		if ce := r.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("a sidecar older than its file was served (%s)", ce)
		}
		decoded(t, r, css)
		r = one(t, addr, get("/orphan.js", "Accept-Encoding: gzip"))
		wantStatus(t, r, 404)
		// The sidecar is served as itself when asked for by name.
		r = one(t, addr, get("/side.css.gz"))
		wantStatus(t, r, 200)
		if ce := r.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("/side.css.gz by name: Content-Encoding %q", ce)
		}
	})
	t.Run("SidecarsNotListed", func(t *testing.T) {
		r := one(t, addr, get("/assets/"))
		wantStatus(t, r, 200)
		if !strings.Contains(r.Body, `href="x.css"`) || strings.Contains(r.Body, "x.css.br") || !strings.Contains(r.Body, `href="lone.gz"`) {
			t.Errorf("listing shows sidecars or hides files:\n%s", r.Body)
		}
	})
}

func (s *suite) cachePolicy(t *testing.T) {
	root := repTree(t)
	srv := s.start(t, Options{Site: site.Config{Root: root}})
	for path, want := range map[string]string{
		"/":                site.NoCache,
		"/index.html":      site.NoCache,
		"/app.js":          site.NoCache,
		"/app.3f9a1c2b.js": site.Immutable,
		"/pic.png":         site.NoCache,
	} {
		r := one(t, srv.Addr, get(path))
		wantStatus(t, r, 200)
		if got := r.Header.Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control %q, want %q", path, got, want)
		}
	}
	t.Run("Rules", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: root, CacheControl: []site.CacheRule{
			{Glob: "*.png", Value: "public, max-age=600"},
			{Glob: "/app*.js", Value: "private"},
		}}})
		for path, want := range map[string]string{
			"/pic.png":         "public, max-age=600",
			"/app.3f9a1c2b.js": "private", // a rule before the defaults
			"/side.css":        site.NoCache,
		} {
			if got := one(t, srv.Addr, get(path)).Header.Get("Cache-Control"); got != want {
				t.Errorf("%s: Cache-Control %q, want %q", path, got, want)
			}
		}
	})
	t.Run("None", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: root, NoCacheControl: true}})
		if got := one(t, srv.Addr, get("/app.3f9a1c2b.js")).Header.Get("Cache-Control"); got != "" {
			t.Errorf("--no-cache-control: Cache-Control %q", got)
		}
	})
	t.Run("ContentETag", func(t *testing.T) {
		srv := s.start(t, Options{Site: site.Config{Root: root, ETag: site.ETagContent}})
		a := one(t, srv.Addr, get("/app.js"))
		b := one(t, srv.Addr, get("/app.3f9a1c2b.js")) // the same bytes under another name
		if a.Header.Get("ETag") != b.Header.Get("ETag") || !strings.HasPrefix(a.Header.Get("ETag"), `"`) || len(a.Header.Get("ETag")) < 20 {
			t.Errorf("content ETags of equal files: %q and %q", a.Header.Get("ETag"), b.Header.Get("ETag"))
		}
		c := one(t, srv.Addr, get("/side.css"))
		if c.Header.Get("ETag") == a.Header.Get("ETag") {
			t.Errorf("different files share content ETag %s", a.Header.Get("ETag"))
		}
		r := one(t, srv.Addr, get("/app.js", "If-None-Match: "+a.Header.Get("ETag")))
		wantStatus(t, r, 304)
	})
}
