package site

import (
	"bytes"
	"errors"
	"math"

	"github.com/weft-server/weft/internal/http1"
)

// byteRange is [start, start+length) of a representation.
type byteRange struct{ start, length int64 }

var errUnsatisfiable = errors.New("weft: range not satisfiable")

// parseRange parses a Range field value (RFC 9110 §14.1.2) against a
// representation of size bytes. It returns nil ranges and a nil error when
// the field should be ignored (not bytes, malformed, or a set that would
// amplify the response: more than maxRanges, overlapping, or in total
// larger than the representation), and errUnsatisfiable when no range
// overlaps the content.
//
// The ranges are appended to dst, so a caller can offer stack space.
func parseRange(h []byte, size int64, maxRanges int, dst []byteRange) ([]byteRange, error) {
	const prefix = "bytes="
	if len(h) < len(prefix) || !http1.EqualFold(h[:len(prefix)], prefix) {
		return nil, nil
	}
	ranges := dst[:0]
	satisfiable := false
	count := 0
	for rest := h[len(prefix):]; rest != nil; {
		var spec []byte
		if i := bytes.IndexByte(rest, ','); i >= 0 {
			spec, rest = rest[:i], rest[i+1:]
		} else {
			spec, rest = rest, nil
		}
		spec = bytes.TrimSpace(spec)
		if len(spec) == 0 {
			continue
		}
		count++
		if count > maxRanges {
			return nil, nil
		}
		dash := bytes.IndexByte(spec, '-')
		if dash < 0 {
			return nil, nil
		}
		first, last := spec[:dash], spec[dash+1:]
		var r byteRange
		if len(first) == 0 {
			// suffix-range: the last n bytes.
			n, ok := parseInt(last)
			if !ok {
				return nil, nil
			}
			if n == 0 || size == 0 {
				continue
			}
			if n > size {
				n = size
			}
			r = byteRange{size - n, n}
		} else {
			start, ok := parseInt(first)
			if !ok {
				return nil, nil
			}
			end := size - 1
			if len(last) > 0 {
				e, ok := parseInt(last)
				if !ok || e < start {
					return nil, nil
				}
				if e < end {
					end = e
				}
			}
			if start >= size {
				continue
			}
			r = byteRange{start, end - start + 1}
		}
		satisfiable = true
		ranges = append(ranges, r)
	}
	if count == 0 {
		return nil, nil
	}
	if !satisfiable {
		return nil, errUnsatisfiable
	}
	var total int64
	for i, a := range ranges {
		total += a.length
		for _, b := range ranges[:i] {
			if a.start < b.start+b.length && b.start < a.start+a.length {
				return nil, nil
			}
		}
	}
	if total > size {
		return nil, nil
	}
	return ranges, nil
}

// parseInt parses a run of digits. A value beyond int64 saturates at
// math.MaxInt64: such a position lies past the end of any representation,
// which makes a first-pos unsatisfiable (RFC 9110 §14.1.2) rather than
// malformed, and a last-pos or suffix length simply "to the end".
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}
