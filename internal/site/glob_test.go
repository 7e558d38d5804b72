package site

import (
	"strings"
	"testing"

	"github.com/bmatcuk/doublestar/v4"
)

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, path string
		match         bool
		splat         string
	}{
		{"/assets/**", "/assets", true, ""},
		{"/assets/**", "/assets/", true, ""},
		{"/assets/**", "/assets/a/b.js", true, "a/b.js"},
		{"/assets/**", "/assetsx/a.js", false, ""},
		{"/blog/*", "/blog/post", true, "post"},
		{"/blog/*", "/blog/a/b", false, ""},
		{"/blog/*", "/blog", false, ""},
		{"/old*", "/older/x", false, ""},
		{"/old*", "/older", true, "er"},
		{"/old", "/old", true, ""},
		{"/old", "/old/", false, ""},
		{"*.png", "/a/b/logo.png", true, ""},
		{"*.png", "/logo.png/x", false, ""},
		{"logo.png", "/deep/logo.png", true, ""},
		{"/*.html", "/a.html", true, ""},
		{"/*.html", "/d/a.html", false, ""},
		{"/**/*.js", "/a/b/c.js", true, ""},
		{"/{a,b}/**", "/b/x", true, ""},
		{"/", "/", true, ""},
	}
	for _, tc := range cases {
		g, err := compileGlob(tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		splat, ok := g.capture(tc.path)
		if ok != tc.match || splat != tc.splat {
			t.Errorf("%q on %q: %v %q, want %v %q", tc.pattern, tc.path, ok, splat, tc.match, tc.splat)
		}
	}
	for _, bad := range []string{"", "/a/[", "/a\x00", "/a\r\nX: y"} {
		if _, err := compileGlob(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}

// FuzzGlob: any pattern either is refused or matches without panic; a
// literal pattern matches exactly its own bytes; a splat is the path's own tail
// and rebuilds the path with the pattern's prefix; base-name patterns
// see only the last segment; and the answer is doublestar's.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"/assets/**", "/assets/app.js"}, {"*.woff2", "/fonts/a.woff2"}, {"/blog/*", "/blog/x"},
		{"/old*", "/older"}, {"/{a,b}/[c-d]?.txt", "/a/cx.txt"}, {"/\\*", "/*"}, {"**", "/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, p string) {
		g, err := compileGlob(pattern)
		if err != nil {
			return
		}
		pattern = g.pattern // "assets/**" is anchored: "/assets/**"
		p = "/" + p
		splat, ok := g.capture(p)
		target := p
		if g.base {
			target = p[strings.LastIndexByte(p, '/')+1:]
		}
		if g.literal {
			// Bytes, not runes: doublestar takes any two invalid
			// UTF-8 bytes for the same rune (testdata: 9621d80c…).
			if ok != (target == pattern) {
				t.Fatalf("literal %q on %q: %v", pattern, target, ok)
			}
		} else if want, _ := doublestar.Match(pattern, target); ok != want {
			t.Fatalf("%q on %q: %v, doublestar says %v", pattern, p, ok, want)
		}
		if !ok && splat != "" {
			t.Fatalf("%q on %q: splat %q without a match", pattern, p, splat)
		}
		if splat != "" && g.prefix+splat != p {
			t.Fatalf("%q on %q: prefix %q + splat %q is not the path", pattern, p, g.prefix, splat)
		}
	})
}
