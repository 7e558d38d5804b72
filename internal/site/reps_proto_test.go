// Regression tests from an adversarial review of the representations
// (issue 8). A test's comment describes the defect it caught, in the code
// as it was then; every one passes since the fixes that followed.

package site

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/codec"
)

// jsText is n bytes of JavaScript that compresses well.
func jsText(n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "export function f%d(x) { return x * %d + %q; }\n", i, i, "weft")
	}
	return []byte(b.String()[:n])
}

// reviewTree writes files (name → content) an hour old, so that their
// Last-Modified is a strong validator.
func reviewTree(t testing.TB, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for name, b := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	return root
}

func mustCompress(t testing.TB, c codec.Coding, b []byte) []byte {
	t.Helper()
	out, err := codec.Compress(c, codec.Fast, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openReview(t testing.TB, cfg Config) *Site {
	t.Helper()
	st, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestIfRangeDateSplicesRepresentations: the first client that asks
// for br gets identity while the variant is built (issue 8 allows it). Its
// download is cut; it resumes with Range and If-Range: <Last-Modified>
// (RFC 9110 §13.1.5), the same Accept-Encoding. The date matches the br
// variant too (it carries the file's Last-Modified), so the server sends a
// range of the brotli bytes, and the client splices identity and brotli
// bytes. A date can tell versions apart, not representations: If-Range by
// date must fail (send 200) for a representation other than the one the
// date was sent with, e.g. whenever the file has other representations
// (entry.go:198 serveEntry: checkIfRange(req.IfRange, e.etag, e.mod)).
func TestIfRangeDateSplicesRepresentations(t *testing.T) {
	js := jsText(64 << 10)
	root := reviewTree(t, map[string][]byte{"app.js": js})
	st := openReview(t, Config{Root: root, Cache: CacheConfig{NoWatch: true, Validity: time.Hour}})

	first := serveRaw(t, st, "GET", "/app.js", "Accept-Encoding: br").send()
	if first.status != 200 || first.hdr["content-encoding"] != "" {
		t.Fatalf("first response: %d %q, want identity while br is built", first.status, first.hdr["content-encoding"])
	}
	lm := first.hdr["last-modified"]
	const cut = 1000
	got := append([]byte(nil), first.body[:cut]...) // the download was cut here
	st.reps.waitIdle()                              // the br variant is ready

	r := serveRaw(t, st, "GET", "/app.js", "Accept-Encoding: br", fmt.Sprintf("Range: bytes=%d-", cut), "If-Range: "+lm).send()
	switch r.status {
	case 200:
		return // the full representation: the client starts over
	case 206:
		got = append(got, r.body...)
		if !bytes.Equal(got, js) {
			t.Errorf("resumed with If-Range: %s, the server sent a 206 of the %q representation (Content-Range %s): "+
				"the client spliced %d identity bytes with %d %s bytes", lm, r.hdr["content-encoding"], r.hdr["content-range"], cut, len(r.body), r.hdr["content-encoding"])
		}
	default:
		t.Fatalf("status %d", r.status)
	}
}

// TestDuplicateAcceptEncoding: a request may carry Accept-Encoding on
// several field lines; they mean their comma-joined list (RFC 9110 §5.3).
// "gzip;q=0" then "*" refuses gzip; the parser keeps only the last line
// (http1/request.go:366 r.AcceptEncoding = value), sees "*", and sends the
// gzip sidecar the client refused.
func TestDuplicateAcceptEncoding(t *testing.T) {
	css := bytes.Repeat([]byte("body { margin: 0; padding: 0; }\n"), 200)
	root := reviewTree(t, map[string][]byte{"a.css": css, "a.css.gz": mustCompress(t, codec.Gzip, css)})
	st := openReview(t, Config{Root: root, Compress: CompressConfig{Off: true}})
	r := serveRaw(t, st, "GET", "/a.css", "Accept-Encoding: gzip;q=0", "Accept-Encoding: *").send()
	if ce := r.hdr["content-encoding"]; ce == "gzip" {
		t.Errorf("Accept-Encoding: gzip;q=0 + Accept-Encoding: * (= \"gzip;q=0, *\"): sent Content-Encoding %q, which the client refused", ce)
	}
	// The other order works only because the last line wins.
	r = serveRaw(t, st, "GET", "/a.css", "Accept-Encoding: *", "Accept-Encoding: gzip;q=0").send()
	if ce := r.hdr["content-encoding"]; ce == "gzip" {
		t.Errorf("reversed: sent %q", ce)
	}
}

// TestSidecarSymlinkOutsideRoot: a sidecar that is a symbolic link
// leaving the root is never served, relative or absolute, and the file is
// still served (identity, or compressed here). Checked: true.
func TestSidecarSymlinkOutsideRoot(t *testing.T) {
	css := bytes.Repeat([]byte("body { margin: 0; padding: 0; }\n"), 200)
	outside := t.TempDir()
	secret := []byte("SECRET outside the root\n")
	os.WriteFile(filepath.Join(outside, "secret"), secret, 0o644)
	root := reviewTree(t, map[string][]byte{"a.css": css, "b.css": css})
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "a.css.gz")) // absolute
	rel, _ := filepath.Rel(root, filepath.Join(outside, "secret"))
	os.Symlink(rel, filepath.Join(root, "b.css.br")) // relative, via ..
	for _, cache := range []CacheConfig{{}, {MaxBytes: -1}} {
		st := openReview(t, Config{Root: root, Cache: cache, Compress: CompressConfig{Off: true}})
		for _, p := range []string{"/a.css", "/b.css"} {
			for range 2 {
				w := serveRaw(t, st, "GET", p, "Accept-Encoding: br, gzip").send()
				if bytes.Contains(w.body, []byte("SECRET")) || w.hdr["content-encoding"] != "" {
					t.Errorf("%s (cache %+v): %d Content-Encoding %q body %q", p, cache, w.status, w.hdr["content-encoding"], w.body[:min(40, len(w.body))])
				}
			}
		}
	}
}

// TestDirectoryIndexSidecar: dir/ is served from dir/index.html.br
// to a br client, from memory too, with the index's Content-Type, and a
// change of the sidecar is seen at once (watcher) on dir/. Checked: true.
func TestDirectoryIndexSidecar(t *testing.T) {
	html := bytes.Repeat([]byte("<p>hello, representations</p>\n"), 100)
	root := reviewTree(t, map[string][]byte{"dir/index.html": html, "dir/index.html.br": mustCompress(t, codec.Brotli, html)})
	st := openReview(t, Config{Root: root, Compress: CompressConfig{Off: true}, Cache: CacheConfig{Validity: time.Hour}})
	for range 3 {
		w := serveRaw(t, st, "GET", "/dir/", "Accept-Encoding: br").send()
		out, c, err := w.decode()
		if w.status != 200 || c != codec.Brotli || err != nil || !bytes.Equal(out, html) || !strings.HasPrefix(w.hdr["content-type"], "text/html") || w.hdr["vary"] == "" {
			t.Fatalf("/dir/: %d %s %v ctype %q vary %q", w.status, c, err, w.hdr["content-type"], w.hdr["vary"])
		}
	}
	html2 := bytes.Repeat([]byte("<p>version two</p>\n"), 100)
	os.WriteFile(filepath.Join(root, "dir/index.html"), html2, 0o644)
	os.WriteFile(filepath.Join(root, "dir/index.html.br"), mustCompress(t, codec.Brotli, html2), 0o644)
	ok := waitFor(2*time.Second, func() bool {
		out, _, _ := serveRaw(t, st, "GET", "/dir/", "Accept-Encoding: br").send().decode()
		return bytes.Equal(out, html2)
	})
	if !ok {
		t.Errorf("/dir/ still serves the old index.html.br")
	}
}

// TestSidecarChangeWithoutWatcher: with --cache-no-watch, a sidecar
// rewritten, removed or made stale is noticed within the validity period
// (sidecarsSame at revalidation). Checked: true.
func TestSidecarChangeWithoutWatcher(t *testing.T) {
	css := bytes.Repeat([]byte("body { margin: 0; padding: 0; }\n"), 2000) // 64 KiB: held open
	gz1 := mustCompress(t, codec.Gzip, css)
	root := reviewTree(t, map[string][]byte{"a.css": css, "a.css.gz": gz1})
	st := openReview(t, Config{Root: root, Compress: CompressConfig{Off: true}, Cache: CacheConfig{NoWatch: true, Validity: 20 * time.Millisecond}})
	get := func() *wire { return serveRaw(t, st, "GET", "/a.css", "Accept-Encoding: gzip").send() }
	if w := get(); !bytes.Equal(w.body, gz1) {
		t.Fatalf("not the sidecar")
	}
	// Rewritten in place with other bytes (same version of the file).
	gz2, _ := codec.Compress(codec.Gzip, codec.Best, append(css[:len(css):len(css)], ' '))
	os.WriteFile(filepath.Join(root, "a.css.gz"), gz2, 0o644)
	if !waitFor(time.Second, func() bool { return bytes.Equal(get().body, gz2) }) {
		t.Errorf("rewritten sidecar not noticed")
	}
	// Made stale: the file changes after it.
	time.Sleep(20 * time.Millisecond)
	now := time.Now()
	os.Chtimes(filepath.Join(root, "a.css"), now, now)
	if !waitFor(time.Second, func() bool { w := get(); return w.hdr["content-encoding"] == "" && bytes.Equal(w.body, css) }) {
		t.Errorf("stale sidecar still served")
	}
	// Removed.
	os.Chtimes(filepath.Join(root, "a.css.gz"), now.Add(time.Second), now.Add(time.Second))
	if !waitFor(time.Second, func() bool { return get().hdr["content-encoding"] == "gzip" }) {
		t.Errorf("fresh sidecar not noticed")
	}
	os.Remove(filepath.Join(root, "a.css.gz"))
	if !waitFor(time.Second, func() bool { return get().hdr["content-encoding"] == "" }) {
		t.Errorf("removed sidecar still served")
	}
}

// TestDotfileSidecar: a dotfile stays 404 whatever sidecars it has.
// Checked: true.
func TestDotfileSidecar(t *testing.T) {
	env := bytes.Repeat([]byte("SECRET=1\n"), 200)
	root := reviewTree(t, map[string][]byte{".env": env, ".env.gz": mustCompress(t, codec.Gzip, env)})
	st := openReview(t, Config{Root: root})
	for _, p := range []string{"/.env", "/.env.gz", "/%2eenv"} {
		if w := serveRaw(t, st, "GET", p, "Accept-Encoding: gzip").send(); w.status != 404 {
			t.Errorf("%s: %d", p, w.status)
		}
	}
}

// Test416OfAVariant: an unsatisfiable range of the gzip variant
// answers 416 with Content-Range: bytes */<length of the variant>, and
// Vary. Checked: true. (It also repeats the representation's header
// lines, Content-Encoding: gzip included, on an empty body; logged.)
func Test416OfAVariant(t *testing.T) {
	js := jsText(64 << 10)
	root := reviewTree(t, map[string][]byte{"app.js": js})
	st := openReview(t, Config{Root: root})
	serveRaw(t, st, "GET", "/app.js", "Accept-Encoding: gzip").send()
	st.reps.waitIdle()
	full := serveRaw(t, st, "GET", "/app.js", "Accept-Encoding: gzip").send()
	if full.hdr["content-encoding"] != "gzip" {
		t.Fatalf("no gzip variant")
	}
	w := serveRaw(t, st, "GET", "/app.js", "Accept-Encoding: gzip", fmt.Sprintf("Range: bytes=%d-", len(full.body))).send()
	if w.status != 416 || w.hdr["content-range"] != fmt.Sprintf("bytes */%d", len(full.body)) || w.hdr["vary"] != "Accept-Encoding" {
		t.Errorf("416: %d Content-Range %q Vary %q", w.status, w.hdr["content-range"], w.hdr["vary"])
	}
	t.Logf("416 head:\n%s", w.head)
}

// TestIdentityWhileBuildingIsCachedForAYear: the first request for a
// new fingerprinted asset (after each deploy) is answered in identity
// while its variant is built (issue 8 allows it), but with the asset's
// policy, "public, max-age=31536000, immutable". That first request is
// typically the CDN's or a shared proxy's origin fetch: it stores the
// uncompressed response under the client's (normalized) Accept-Encoding
// and serves it, uncompressed, for a year without ever revalidating; the
// savings issue 8 is about are lost for exactly the hottest assets. The
// stand-in identity must not carry a long-lived or immutable policy (send
// "no-cache" on it, or wait for the build of a small file on the worker
// instead of answering at once).
func TestIdentityWhileBuildingIsCachedForAYear(t *testing.T) {
	js := jsText(100 << 10)
	root := reviewTree(t, map[string][]byte{"assets/app.3f9a1c2b.js": js})
	st := openReview(t, Config{Root: root})
	w := serveRaw(t, st, "GET", "/assets/app.3f9a1c2b.js", "Accept-Encoding: gzip, br").send()
	st.reps.waitIdle()
	later := serveRaw(t, st, "GET", "/assets/app.3f9a1c2b.js", "Accept-Encoding: gzip, br").send()
	if later.hdr["content-encoding"] != "br" {
		t.Fatalf("the br variant was never built (%q)", later.hdr["content-encoding"])
	}
	if w.hdr["content-encoding"] == "" && strings.Contains(w.hdr["cache-control"], "immutable") {
		t.Errorf("a br client's first response is identity (%d bytes; br is %d) with Cache-Control %q: a shared cache keeps it a year",
			len(w.body), len(later.body), w.hdr["cache-control"])
	}
}
