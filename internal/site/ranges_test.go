package site

import (
	"reflect"
	"testing"
)

func TestParseRange(t *testing.T) {
	cases := []struct {
		h    string
		want []byteRange
		err  error
	}{
		{"bytes=0-0", []byteRange{{0, 1}}, nil},
		{"bytes=0-", []byteRange{{0, 100}}, nil},
		{"bytes=-1", []byteRange{{99, 1}}, nil},
		{"bytes=50-1000", []byteRange{{50, 50}}, nil},
		{"BYTES = 0-1", nil, nil},
		{"bytes=0-1, 5-6", []byteRange{{0, 2}, {5, 2}}, nil},
		{"bytes=100-", nil, errUnsatisfiable},
		{"bytes=100-200, 300-", nil, errUnsatisfiable},
		{"bytes=100-200, 0-1", []byteRange{{0, 2}}, nil},
		{"bytes=-0", nil, errUnsatisfiable},
		{"bytes=", nil, nil},
		{"bytes=1-0", nil, nil},
		{"bytes=a-b", nil, nil},
		{"bytes=0-10,5-20", nil, nil},                          // overlap: ignored
		{"bytes=0-99,0-99", nil, nil},                          // amplification: ignored
		{"bytes=1-1,2-2,3-3,4-4,5-5,6-6", nil, nil},            // more than maxRanges (5)
		{"bytes=99999999999999999999-", nil, errUnsatisfiable}, // beyond int64: past the end
		{"bytes=9223372036854775807-", nil, errUnsatisfiable},
		{"bytes=9223372036854775806-9223372036854775807", nil, errUnsatisfiable},
		{"bytes=100-99999999999999999999", nil, errUnsatisfiable},
		{"bytes=99-99999999999999999999", []byteRange{{99, 1}}, nil},
		{"bytes=-99999999999999999999", []byteRange{{0, 100}}, nil},
		{"bytes=0000000000000000000000001-2", []byteRange{{1, 2}}, nil},
		{"bytes=99999999999999999999-, 0-0", []byteRange{{0, 1}}, nil},
		{"bytes=99999999999999999999-1", nil, nil}, // last < first: malformed
	}
	for _, tc := range cases {
		got, err := parseRange([]byte(tc.h), 100, 5, nil)
		if err != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseRange(%q) = %v, %v; want %v, %v", tc.h, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=3-", "bytes=0-1,4-5", "bytes=,,", "bytes=1-0"} {
		f.Add([]byte(s), int64(100))
	}
	f.Fuzz(func(t *testing.T, h []byte, size int64) {
		if size < 0 {
			size = -size
		}
		rs, err := parseRange(h, size, 16, nil)
		if err != nil {
			return
		}
		var total int64
		for _, r := range rs {
			if r.start < 0 || r.length <= 0 || r.start+r.length > size {
				t.Fatalf("range %+v outside a size of %d", r, size)
			}
			total += r.length
		}
		if total > size {
			t.Fatalf("ranges total %d > size %d", total, size)
		}
	})
}
