//go:build linux

package main

import (
	"slices"
	"testing"
)

func TestSelected(t *testing.T) {
	all := []string{"1 KiB, 64 conns", "1 KiB, 256 conns", "10 MiB", "conn per request", "1 KiB, 64 conns, access log",
		"js gzip-static", "js gzip-fly", "js br"}
	cases := []struct {
		spec string
		want []string
	}{
		{"", all},
		{"js", []string{"js gzip-static", "js gzip-fly", "js br"}},
		{"js gzip", []string{"js gzip-static", "js gzip-fly"}},
		{"js gzip-fly,js br", []string{"js gzip-fly", "js br"}},
		{"10 MiB,conn", []string{"10 MiB", "conn per request"}},
		{"1 KiB, 64", []string{"1 KiB, 64 conns", "1 KiB, 64 conns, access log"}},
		{"1 KiB, 64 conns, access", []string{"1 KiB, 64 conns, access log"}},
		{"1 KiB", []string{"1 KiB, 64 conns", "1 KiB, 256 conns", "1 KiB, 64 conns, access log"}},
		{"none", nil},
	}
	for _, c := range cases {
		var got []string
		for _, n := range all {
			if selected(n, c.spec, all) {
				got = append(got, n)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("-cases %q selected %q, want %q", c.spec, got, c.want)
		}
	}
}
