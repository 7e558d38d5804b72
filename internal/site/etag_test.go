package site

import (
	"regexp"
	"testing"
	"time"
)

// TestAppendETag: the ETag is strong, well-formed and distinct for any
// modification time, including those where UnixNano overflows.
func TestAppendETag(t *testing.T) {
	strong := regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+"$`)
	times := []time.Time{
		time.Unix(0, 0), time.Unix(0, 1), time.Unix(1, 0), time.Unix(-1, 0),
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC),
		time.Date(2262, 4, 11, 23, 47, 16, 854775808, time.UTC),
		time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2846, 1, 1, 0, 0, 0, 0, time.UTC), // UnixNano wraps back near 2263's
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	seen := map[string]time.Time{}
	for _, tm := range times {
		for _, size := range []int64{0, 100} {
			tag := string(appendETag(nil, size, tm))
			if !strong.MatchString(tag) {
				t.Errorf("%v: %q", tm, tag)
			}
			if prev, dup := seen[tag]; dup {
				t.Errorf("%v and %v (size %d): both %q", prev, tm, size, tag)
			}
			seen[tag] = tm
		}
	}
}
