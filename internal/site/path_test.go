package site

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	cases := []struct {
		raw, name string
		dir       bool
		err       error
	}{
		{"/", ".", true, nil},
		{"/a/b.txt", "a/b.txt", false, nil},
		{"/a/", "a", true, nil},
		{"//a///b", "a/b", false, nil},
		{"/a%20b", "a b", false, nil},
		{"/%252e%252e", "%2e%2e", false, nil},
		{"/caf%C3%A9", "café", false, nil},
		{"/.well-known/x", ".well-known/x", false, nil},
		{"/..", "", false, errBadPath},
		{"/a/../b", "", false, errBadPath},
		{"/%2e%2e/x", "", false, errBadPath},
		{"/a/%2E", "", false, errBadPath},
		{"/..%2fx", "", false, errBadPath},
		{"/a%5cb", "", false, errBadPath},
		{`/a\b`, "", false, errBadPath},
		{"/a%00", "", false, errBadPath},
		{"/a%0a", "", false, errBadPath},
		{"/%", "", false, errBadPath},
		{"/%g0", "", false, errBadPath},
		{"a", "", false, errBadPath},
		{"/.env", "", false, errHidden},
		{"/a/.git/config", "", false, errHidden},
		{"/%2eenv", "", false, errHidden},
	}
	for _, tc := range cases {
		name, dir, err := resolve([]byte(tc.raw), false)
		if err != tc.err || name != tc.name || (err == nil && dir != tc.dir) {
			t.Errorf("resolve(%q) = %q, %v, %v; want %q, %v, %v", tc.raw, name, dir, err, tc.name, tc.dir, tc.err)
		}
	}
	if name, _, err := resolve([]byte("/.env"), true); err != nil || name != ".env" {
		t.Errorf("dotfiles allowed: %q, %v", name, err)
	}
}

// FuzzResolve checks the resolver's promise: whatever the input, a name it
// returns is local (no "..", not absolute), has no NUL, control byte or
// backslash, and names no dotfile unless asked to.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/%2e%2e/", "/..%2f", "/a%5c..", "/.git", "/%252e", "//x//y/", "/a%00b"} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, dotfiles bool) {
		name, dir, err := resolve(raw, dotfiles)
		// appendResolved appends the same name after what dst holds.
		got, gotDir, gotErr := appendResolved([]byte("pre"), raw, dotfiles)
		if gotErr != err || string(got) != "pre"+name || (err == nil && gotDir != dir) {
			t.Fatalf("appendResolved(%q) = %q, %v, %v; resolve: %q, %v, %v", raw, got, gotDir, gotErr, name, dir, err)
		}
		if err != nil {
			return
		}
		if name != "." && !filepath.IsLocal(name) {
			t.Fatalf("resolve(%q) = %q: not local", raw, name)
		}
		for _, seg := range strings.Split(name, "/") {
			if seg == ".." || seg == "" || (seg == "." && name != ".") {
				t.Fatalf("resolve(%q) = %q: bad segment %q", raw, name, seg)
			}
			if !dotfiles && strings.HasPrefix(seg, ".") && seg != ".well-known" && name != "." {
				t.Fatalf("resolve(%q) = %q: dotfile", raw, name)
			}
		}
		if strings.ContainsAny(name, "\x00\\\r\n") {
			t.Fatalf("resolve(%q) = %q: forbidden byte", raw, name)
		}
	})
}
