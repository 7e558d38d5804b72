package site

import (
	"errors"
	"strings"
)

var (
	errBadPath = errors.New("weft: malformed path")
	errHidden  = errors.New("weft: path names a dotfile")
)

// resolve turns the raw (percent-encoded) path of a request into a name
// relative to the served root, for os.Root. It decodes exactly once, so
// double-encoded input stays literal. It refuses (errBadPath) NUL and other
// control bytes, backslashes, and "." or ".." segments, whether they arrived
// plain or encoded; it refuses (errHidden) segments that begin with a dot,
// except ".well-known", unless dotfiles is set. Empty segments are merged.
// The result is "." for the root; dir reports a trailing slash.
func resolve(raw []byte, dotfiles bool) (name string, dir bool, err error) {
	if len(raw) == 0 || raw[0] != '/' {
		return "", false, errBadPath
	}
	var b strings.Builder
	b.Grow(len(raw))
	seg := 0 // start, in b, of the current segment
	hidden := false
	endSegment := func() error {
		s := b.String()[seg:]
		switch {
		case s == "." || s == "..":
			return errBadPath
		case s != "" && s[0] == '.' && s != ".well-known" && !dotfiles:
			hidden = true
		}
		return nil
	}
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) {
				return "", false, errBadPath
			}
			h, l := unhex(raw[i+1]), unhex(raw[i+2])
			if h < 0 || l < 0 {
				return "", false, errBadPath
			}
			c = byte(h<<4 | l)
			i += 2
		}
		switch {
		case c == '/':
			if err := endSegment(); err != nil {
				return "", false, err
			}
			if b.Len() > seg {
				b.WriteByte('/')
				seg = b.Len()
			}
			continue
		case c < ' ' || c == 0x7f || c == '\\':
			return "", false, errBadPath
		}
		b.WriteByte(c)
	}
	if err := endSegment(); err != nil {
		return "", false, err
	}
	if hidden {
		return "", false, errHidden
	}
	name = strings.TrimSuffix(b.String(), "/")
	if name == "" {
		name = "."
	}
	return name, raw[len(raw)-1] == '/', nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
