package site

import (
	"errors"

	"github.com/weft-server/weft/internal/http1"
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
// The result is "." for the root; dir reports a trailing slash. The name is
// a string of its own, exactly as long as it is (no larger buffer behind it).
func resolve(raw []byte, dotfiles bool) (name string, dir bool, err error) {
	var space [256]byte
	b, dir, err := appendResolved(space[:0], raw, dotfiles)
	if err != nil {
		return "", false, err
	}
	return string(b), dir, nil
}

// appendResolved is resolve that appends the name to dst and returns the
// extended slice, so a caller can decode into stack space without
// allocating. On error, the returned slice is dst unchanged.
func appendResolved(dst, raw []byte, dotfiles bool) (name []byte, dir bool, err error) {
	if len(raw) == 0 || raw[0] != '/' {
		return dst, false, errBadPath
	}
	base := len(dst)
	b := dst
	seg := base // start, in b, of the current segment
	hidden := false
	for i := 1; i <= len(raw); i++ {
		var c byte = '/' // the end of raw ends the last segment
		if i < len(raw) {
			c = raw[i]
			if c == '%' {
				if i+2 >= len(raw) {
					return dst, false, errBadPath
				}
				h, l := http1.Unhex(raw[i+1]), http1.Unhex(raw[i+2])
				if h < 0 || l < 0 {
					return dst, false, errBadPath
				}
				c = byte(h<<4 | l)
				i += 2
			}
			if c < ' ' || c == 0x7f || c == '\\' {
				return dst, false, errBadPath
			}
		}
		if c != '/' {
			b = append(b, c)
			continue
		}
		s := b[seg:]
		switch {
		case len(s) == 0:
			continue // empty segments merge
		case len(s) == 1 && s[0] == '.', len(s) == 2 && s[0] == '.' && s[1] == '.':
			return dst, false, errBadPath
		case s[0] == '.' && !dotfiles && string(s) != ".well-known":
			hidden = true
		}
		b = append(b, '/')
		seg = len(b)
	}
	if hidden {
		return dst, false, errHidden
	}
	if len(b) > base {
		b = b[:len(b)-1] // the slash that ended the last segment
	} else {
		b = append(b, '.')
	}
	return b, raw[len(raw)-1] == '/', nil
}
