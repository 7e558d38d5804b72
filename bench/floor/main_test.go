//go:build linux

package main

import "testing"

// TestEnds: request ends are counted across reads that split them, in
// pipelined batches, and not in a lone "\n\n" or "\r\r\n\n".
func TestEnds(t *testing.T) {
	for _, tc := range []struct {
		reads []string
		want  int
	}{
		{[]string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, 1},
		{[]string{"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\nGET /"}, 2},
		{[]string{"GET / HTTP/1.1\r", "\n", "\r", "\n"}, 1},
		{[]string{"GET / HTTP/1.1\r\n\r", "\nGET / HTTP/1.1\r\n\r\n"}, 2},
		{[]string{"a\n\nb\r\r\n\nc\r\n\n"}, 0},
		{[]string{"a\r\r\n\r\n"}, 1},
	} {
		var s uint8
		got := 0
		for _, r := range tc.reads {
			got += ends([]byte(r), &s)
		}
		if got != tc.want {
			t.Errorf("%q: %d ends, want %d", tc.reads, got, tc.want)
		}
	}
}
