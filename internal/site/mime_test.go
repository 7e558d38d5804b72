package site

import (
	"strings"
	"testing"
)

// TestContentType: issue 8's newcomer found .py, .sh, .log, .docx, .m3u8,
// .xhtml and .svgz all sent as application/octet-stream.
func TestContentType(t *testing.T) {
	const plain = "text/plain; charset=utf-8"
	s := &Site{types: mimeTypes}
	for _, tc := range []struct{ name, want string }{
		{"tool.py", plain},
		{"build.sh", plain},
		{"server.log", plain},
		{"letter.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"live/stream.m3u8", "application/vnd.apple.mpegurl"},
		{"page.xhtml", "application/xhtml+xml"},
		{"logo.svgz", "image/svg+xml"},
		{"README.md", plain},
		{"notes.markdown", plain},
		{"main.go", plain},
		{"lib.rs", plain},
		{"index.php", plain},
		{"App.tsx", plain},
		{"fix.patch", plain},
		{"nginx.conf", plain},
		{"segment.ts", "video/mp2t"}, // MPEG-TS, as nginx, not TypeScript
		{"app.js", "text/javascript; charset=utf-8"},
		{"mod.mjs", "text/javascript; charset=utf-8"},
		{"app.js.map", "application/json"},
		{"data.jsonld", "application/ld+json"},
		{"site.webmanifest", "application/manifest+json"},
		{"prog.wasm", "application/wasm"},
		{"pic.avif", "image/avif"},
		{"pic.webp", "image/webp"},
		{"pic.jxl", "image/jxl"},
		{"font.woff2", "font/woff2"},
		{"song.opus", "audio/opus"},
		{"index.html", "text/html; charset=utf-8"},
		{"LOUD.HTML", "text/html; charset=utf-8"},
		{"Tool.PY", plain},
		{"Logo.SvgZ", "image/svg+xml"},
		{"noext", defaultType},
		{"dir.d/noext", defaultType},
		{".hidden", defaultType},
		{"x.unknownext", defaultType},
		{"x." + strings.Repeat("a", 40), defaultType},
	} {
		if got := s.contentType(tc.name); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// nginxExts is every extension of nginx 1.22.1's conf/mime.types.
const nginxExts = `html htm shtml css xml gif jpeg jpg js atom rss mml txt jad wml htc
avif png svg svgz tif tiff wbmp webp ico jng bmp woff woff2 jar war ear json hqx
doc pdf ps eps ai rtf m3u8 kml kmz xls eot ppt odg odp ods odt pptx xlsx docx
wmlc wasm 7z cco jardiff jnlp run pl pm prc pdb rar rpm sea swf sit tcl tk der
pem crt xpi xhtml xspf zip bin exe dll deb dmg iso img msi msp msm mid midi kar
mp3 ogg m4a ra 3gpp 3gp ts mp4 mpeg mpg mov webm flv m4v mng asx asf wmv avi`

// nginxBinary are the extensions nginx labels application/octet-stream.
const nginxBinary = "bin exe dll deb dmg iso img msi msp msm"

func TestTableCoversNginx(t *testing.T) {
	for _, e := range strings.Fields(nginxExts) {
		got, ok := mimeTypes["."+e]
		if !ok {
			t.Errorf(".%s: missing", e)
			continue
		}
		if got == defaultType && !strings.Contains(" "+nginxBinary+" ", " "+e+" ") {
			t.Errorf(".%s: %s", e, got)
		}
	}
}

// TestTableForm: keys are lower case with one leading dot, no longer than
// the lookup reads, and every type passes CheckMIME unchanged, so text/*
// carries a charset.
func TestTableForm(t *testing.T) {
	for ext, ctype := range mimeTypes {
		key, value, err := CheckMIME(ext, ctype)
		if err != nil {
			t.Errorf("%s: %v", ext, err)
			continue
		}
		if key != ext {
			t.Errorf("%s: key should be %s", ext, key)
		}
		if value != ctype {
			t.Errorf("%s: %q, want %q", ext, ctype, value)
		}
		if strings.Contains(ctype, "charset") && !strings.HasPrefix(ctype, "text/") {
			t.Errorf("%s: %q: charset on a type that is not text/*", ext, ctype)
		}
	}
}

func TestMIMEOverrides(t *testing.T) {
	types, err := mimeTable(map[string]string{
		".md":      "text/markdown",                  // override, charset added
		"Foo":      "application/x-foo",              // addition, dot and case supplied
		".LATIN":   "text/plain; charset=iso-8859-1", // charset kept
		"gltf":     " model/gltf+json ",
		".ts":      "text/javascript",
		"manifest": "text/cache-manifest;charset=utf-8",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Site{types: types}
	for _, tc := range []struct{ name, want string }{
		{"README.md", "text/markdown; charset=utf-8"},
		{"a.foo", "application/x-foo"},
		{"A.FOO", "application/x-foo"},
		{"old.latin", "text/plain; charset=iso-8859-1"},
		{"scene.gltf", "model/gltf+json"},
		{"app.ts", "text/javascript; charset=utf-8"},
		{"app.manifest", "text/cache-manifest; charset=utf-8"}, // canonical form
		{"page.html", "text/html; charset=utf-8"},              // the rest of the table stays
	} {
		if got := s.contentType(tc.name); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if mimeTypes[".md"] != "text/plain; charset=utf-8" || mimeTypes[".foo"] != "" {
		t.Error("overrides changed the built-in table")
	}
}

func TestMIMEOverrideErrors(t *testing.T) {
	for _, tc := range []struct {
		add  map[string]string
		want string // in the error
	}{
		{map[string]string{"": "text/plain"}, `extension ""`},
		{map[string]string{".": "text/plain"}, `extension "."`},
		{map[string]string{".tar.gz": "application/gzip"}, `extension ".tar.gz"`},
		{map[string]string{"a/b": "text/plain"}, `extension "a/b"`},
		{map[string]string{"a b": "text/plain"}, `extension "a b"`},
		{map[string]string{"x\n": "text/plain"}, `extension "x\n"`},
		{map[string]string{strings.Repeat("x", 32): "text/plain"}, "at most 31 bytes"},
		{map[string]string{".x": ""}, `type "" for .x`},
		{map[string]string{".x": "text"}, `type "text" for .x`},
		{map[string]string{".x": "text/"}, `type "text/" for .x`},
		{map[string]string{".x": "text/plain; charset"}, `type "text/plain; charset" for .x`},
		{map[string]string{".x": "text/plain\r\nSet-Cookie: a=b"}, "for .x"},
		{map[string]string{".x": `text/plain; a="b` + "\x00" + `"`}, "for .x"},
		{map[string]string{".md": "text/plain", "MD": "text/markdown"}, "given twice"},
	} {
		_, err := mimeTable(tc.add)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.add, err, tc.want)
		}
	}
}

func TestContentTypeAllocatesNothing(t *testing.T) {
	types, err := mimeTable(map[string]string{".foo": "application/x-foo"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Site{types: types}
	n := testing.AllocsPerRun(100, func() {
		s.contentType("dir/Style.CSS")
		s.contentType("a.foo")
		s.contentType("a.unknown")
	})
	if n != 0 {
		t.Fatalf("%v allocations per lookup, want 0", n)
	}
}
