package site

import (
	"cmp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// naturalCompare orders names as people read them: letters without regard
// to case, in any script ("a.txt" before "B.txt"), and runs of ASCII digits
// by their value ("file-2" before "file-10"). Names equal by that measure
// ("a" and "A", "f-1" and "f-01") are ordered by their exact bytes, so the
// order is total and the same on every request.
func naturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			da, db := strings.TrimLeft(a[si:i], "0"), strings.TrimLeft(b[sj:j], "0")
			if c := cmp.Compare(len(da), len(db)); c != 0 {
				return c
			}
			if c := strings.Compare(da, db); c != 0 {
				return c
			}
			continue
		}
		ra, na := rune(ca), 1
		if ca >= utf8.RuneSelf {
			ra, na = utf8.DecodeRuneInString(a[i:])
		}
		rb, nb := rune(cb), 1
		if cb >= utf8.RuneSelf {
			rb, nb = utf8.DecodeRuneInString(b[j:])
		}
		if ra, rb = foldRune(ra), foldRune(rb); ra != rb {
			return cmp.Compare(ra, rb)
		}
		i, j = i+na, j+nb
	}
	if c := cmp.Compare(len(a)-i, len(b)-j); c != 0 {
		return c // the one that ended first is a prefix of the other
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// foldRune maps r to its lower case (ASCII without a table look-up).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}
