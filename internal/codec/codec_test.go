package codec

import (
	"bytes"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	src := []byte(strings.Repeat("weft serves static files; ", 400))
	for _, c := range Encoded {
		for _, lvl := range []Level{Fast, Cached, Best} {
			enc, err := Compress(c, lvl, src)
			if err != nil {
				t.Fatal(c, err)
			}
			if len(enc) >= len(src)/4 {
				t.Errorf("%s level %d: %d bytes from %d", c, lvl, len(enc), len(src))
			}
			dec, err := Decompress(c, enc)
			if err != nil || !bytes.Equal(dec, src) {
				t.Fatalf("%s level %d: round trip: %v", c, lvl, err)
			}
		}
	}
}

func TestTypes(t *testing.T) {
	def := MustParseTypes(DefaultTypes)
	for ctype, want := range map[string]bool{
		"text/html; charset=utf-8":        true,
		"text/javascript; charset=utf-8":  true,
		"application/json":                true,
		"application/ld+json":             true,
		"application/manifest+json":       true,
		"image/svg+xml":                   true,
		"application/atom+xml":            true,
		"application/wasm":                true,
		"font/ttf":                        true,
		"font/woff2":                      false,
		"image/png":                       false,
		"video/mp4":                       false,
		"application/zip":                 false,
		"application/gzip":                false,
		"application/octet-stream":        false,
		"TEXT/PLAIN":                      true,
		"application/vnd.ms-fontobject":   true,
		"application/x-javascript-nope":   false,
		"application/problem+json; x=y":   true,
		"image/svg+xml; charset=utf-8":    true,
		"application/xhtml+xml":           true,
		"text/css; charset=utf-8":         true,
		"application/vnd.apple.mpegurl":   true, // a playlist: text
		"application/x-www-form-urlencod": false,
	} {
		if got := def.Match(ctype); got != want {
			t.Errorf("default types match %q: %v, want %v", ctype, got, want)
		}
	}
	for _, bad := range []string{"text", "text/", "/html", "te*t/html", "text/h*ml", "text/html; q=1"} {
		if _, err := ParseTypes(bad); err == nil {
			t.Errorf("ParseTypes(%q): no error", bad)
		}
	}
}
