package site_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/site"
)

// TestContentTypeOnTheWire: the newcomer's files of issue 8 and a --mime
// override, fetched over a socket, twice (built, then from the cache).
func TestContentTypeOnTheWire(t *testing.T) {
	root := t.TempDir()
	want := map[string]string{
		"/tool.py":      "text/plain; charset=utf-8",
		"/run.sh":       "text/plain; charset=utf-8",
		"/app.log":      "text/plain; charset=utf-8",
		"/a.docx":       "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"/live.m3u8":    "application/vnd.apple.mpegurl",
		"/page.xhtml":   "application/xhtml+xml",
		"/logo.svgz":    "image/svg+xml",
		"/README.MD":    "text/markdown; charset=utf-8", // overridden
		"/scene.glb2":   "model/x-test",                 // added
		"/segment.ts":   "video/mp2t",
		"/unknown.zzz9": "application/octet-stream",
	}
	for p := range want {
		if err := os.WriteFile(filepath.Join(root, p[1:]), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := site.Open(site.Config{Root: root, MIME: map[string]string{"md": "text/markdown", ".GLB2": "model/x-test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr := listen(t, st)
	for range 2 {
		for p, ctype := range want {
			r := get(t, addr, p)
			if r.status != 200 || r.header["content-type"] != ctype {
				t.Errorf("GET %s: %d, Content-Type %q, want 200, %q", p, r.status, r.header["content-type"], ctype)
			}
		}
	}
	// Content-Encoding is never added: .svgz is sent as the gzip bytes it is.
	if r := get(t, addr, "/logo.svgz"); r.header["content-encoding"] != "" {
		t.Errorf("GET /logo.svgz: Content-Encoding %q", r.header["content-encoding"])
	}
}

func TestOpenRejectsBadMIME(t *testing.T) {
	_, err := site.Open(site.Config{Root: t.TempDir(), MIME: map[string]string{".x": "nonsense"}})
	if err == nil {
		t.Fatal("Open accepted the MIME type \"nonsense\"")
	}
	if want := `weft: MIME type "nonsense" for .x: want type/subtype`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to begin %q", err, want)
	}
}
