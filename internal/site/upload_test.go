package site

import "testing"

func TestUploadValidName(t *testing.T) {
	for _, c := range []struct {
		name     string
		dotfiles bool
		ok       bool
	}{
		{"a.txt", false, true},
		{"a b#?%.txt", false, true},
		{"日本語.txt", false, true},
		{"", false, false},
		{".", false, false},
		{"..", false, false},
		{"a/b", false, false},
		{"/a", false, false},
		{"a/", false, false},
		{`a\b`, false, false},
		{"a\x00b", false, false},
		{"a\nb", false, false},
		{"a\x7fb", false, false},
		{"\xff.txt", false, false},
		{".hidden", false, false},
		{".hidden", true, true},
		{".weft-upload-x", true, false},
		{".well-known", false, true}, // as a request path
	} {
		s := &Site{cfg: Config{Dotfiles: c.dotfiles}}
		if got := s.validName(c.name); got != c.ok {
			t.Errorf("validName(%q), dotfiles %v: %v, want %v", c.name, c.dotfiles, got, c.ok)
		}
	}
}

func TestUploadProtectsPath(t *testing.T) {
	for _, c := range []struct {
		rules []AuthRule
		dir   string
		want  bool
	}{
		{nil, "/", false},
		{[]AuthRule{{Prefix: "/", Htpasswd: "h"}}, "/", true},
		{[]AuthRule{{Prefix: "/", Htpasswd: "h"}}, "/inbox/", true},
		{[]AuthRule{{Prefix: "/inbox", Htpasswd: "h"}}, "/inbox/", true},
		{[]AuthRule{{Prefix: "/inbox", Htpasswd: "h"}}, "/", false},
		{[]AuthRule{{Prefix: "/inboxes", Htpasswd: "h"}}, "/inbox/", false},
		{[]AuthRule{{Prefix: "/", Htpasswd: "h"}, {Prefix: "/inbox/public"}}, "/inbox/", false},
		{[]AuthRule{{Prefix: "/", Htpasswd: "h"}, {Prefix: "/inbox"}}, "/inbox/", false},
		{[]AuthRule{{Prefix: "/", Htpasswd: "h"}, {Prefix: "/other"}}, "/inbox/", true},
	} {
		cfg := Config{Auth: c.rules}
		if got := cfg.protectsPath(c.dir); got != c.want {
			t.Errorf("rules %v, %s: %v, want %v", c.rules, c.dir, got, c.want)
		}
	}
}
