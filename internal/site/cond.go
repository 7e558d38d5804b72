package site

import (
	"bytes"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// The preconditions of RFC 9110 §13, each a pure function of the request
// fields and the representation's validators.

type condResult int

const (
	condNone condResult = iota // header absent or unusable
	condTrue
	condFalse
)

// checkPreconditions evaluates RFC 9110 §13.2.2 in order and returns the
// status to answer with instead of the content (304 or 412), or 0 to go on.
func checkPreconditions(req *http1.Request, etag []byte, modtime time.Time) int {
	ch := checkIfMatch(req.IfMatch, etag)
	if ch == condNone {
		ch = unmodifiedSince(req.IfUnmodifiedSince, modtime)
	}
	if ch == condFalse {
		return 412
	}
	get := req.Method == http1.MethodGet || req.Method == http1.MethodHead
	switch checkIfNoneMatch(req.IfNoneMatch, etag) {
	case condFalse:
		if get {
			return 304
		}
		return 412
	case condNone:
		// If-Modified-Since fails (304) exactly when the same test
		// as If-Unmodified-Since passes (RFC 9110 §13.1.3).
		if get && unmodifiedSince(req.IfModifiedSince, modtime) == condTrue {
			return 304
		}
	}
	return 0
}

// checkIfMatch: strong comparison; "*" matches any current representation.
func checkIfMatch(h, etag []byte) condResult {
	if len(h) == 0 {
		return condNone
	}
	res := condFalse
	eachTag(h, func(tag []byte, star bool) bool {
		if star || (!isWeak(tag) && bytes.Equal(tag, etag)) {
			res = condTrue
			return false
		}
		return true
	})
	return res
}

// checkIfNoneMatch: weak comparison; condFalse means a tag matched.
func checkIfNoneMatch(h, etag []byte) condResult {
	if len(h) == 0 {
		return condNone
	}
	res := condTrue
	eachTag(h, func(tag []byte, star bool) bool {
		if star || bytes.Equal(opaque(tag), opaque(etag)) {
			res = condFalse
			return false
		}
		return true
	})
	return res
}

// unmodifiedSince evaluates If-Unmodified-Since (RFC 9110 §13.1.4):
// condTrue when modtime, to the second, is not after the date in h.
func unmodifiedSince(h []byte, modtime time.Time) condResult {
	if len(h) == 0 || modtime.IsZero() {
		return condNone
	}
	t, ok := http1.ParseDate(h)
	if !ok {
		return condNone
	}
	if !modtime.Truncate(time.Second).After(t) {
		return condTrue
	}
	return condFalse
}

// checkIfRange reports whether a Range may be honoured: If-Range holds an
// ETag that strongly matches, or, when dates may be used, a date equal to
// Last-Modified.
func checkIfRange(h, etag []byte, modtime time.Time, dates bool) bool {
	if len(h) == 0 {
		return true
	}
	if h[0] == '"' {
		return bytes.Equal(h, etag)
	}
	if isWeak(h) || !dates {
		return false
	}
	t, ok := http1.ParseDate(h)
	return ok && t.Equal(modtime.Truncate(time.Second))
}

// eachTag calls f for each entity-tag of a list (RFC 9110 §8.8.3) until f
// returns false. Malformed members are skipped.
func eachTag(h []byte, f func(tag []byte, star bool) bool) {
	for len(h) > 0 {
		h = bytes.TrimLeft(h, " \t,")
		if len(h) == 0 {
			return
		}
		if h[0] == '*' {
			if !f(nil, true) {
				return
			}
			h = h[1:]
			continue
		}
		start := 0
		if bytes.HasPrefix(h, []byte("W/")) {
			start = 2
		}
		if len(h) <= start || h[start] != '"' {
			// Skip to the next comma.
			if i := bytes.IndexByte(h, ','); i >= 0 {
				h = h[i+1:]
				continue
			}
			return
		}
		end := bytes.IndexByte(h[start+1:], '"')
		if end < 0 {
			return
		}
		end += start + 2
		if !f(h[:end], false) {
			return
		}
		h = h[end:]
	}
}

func isWeak(tag []byte) bool { return len(tag) >= 2 && tag[0] == 'W' && tag[1] == '/' }

func opaque(tag []byte) []byte {
	if isWeak(tag) {
		return tag[2:]
	}
	return tag
}
