package codec

import (
	"bytes"
	"strings"
	"testing"
)

const all = 1<<Brotli | 1<<Zstd | 1<<Gzip

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		h       string
		present bool
		avail   uint8
		want    Coding
	}{
		{"", false, all, Identity},                                 // no field: the file as it is
		{"", true, all, Identity},                                  // empty: no coding wanted
		{"gzip", true, all, Gzip},                                  //
		{"gzip, deflate, br, zstd", true, all, Brotli},             // a browser's: server preference
		{"gzip, deflate, br, zstd", true, 1<<Zstd | 1<<Gzip, Zstd}, // br not available
		{"gzip;q=1.0, br;q=0.5", true, all, Gzip},                  // the client's weights first
		{"br;q=0.5, gzip;q=0.5", true, all, Brotli},                // equal: server preference
		{"GZIP", true, all, Gzip},                                  // case-insensitive
		{"x-gzip", true, all, Gzip},                                // RFC 9110 §8.4.1.3
		{"*", true, all, Brotli},                                   // any
		{"*;q=0.1, gzip;q=0", true, all, Brotli},                   //
		{"*;q=0", true, all, Identity},                             // nothing acceptable: identity anyway
		{"gzip;q=0", true, all, Identity},                          //
		{"identity;q=0", true, 0, Identity},                        // only identity available
		{"identity;q=0, gzip;q=0.001", true, all, Gzip},            //
		{"gzip;q=0.5, identity", true, all, Identity},              // identity weighed higher
		{"gzip;q=0.5, identity;q=0.5", true, all, Gzip},            // equal: a coding over identity
		{"compress, deflate", true, all, Identity},                 // unknown codings ignored
		{"gzip;q=2", true, all, Identity},                          // malformed weight: member skipped
		{"gzip;q=0.5000", true, all, Identity},                     // four decimals: malformed
		{"gzip;q=1.001", true, all, Identity},                      // above 1: malformed
		{"gzip ; q=0.8 , br;q=0.7", true, all, Gzip},               // spaces around
		{"gzip;level=9", true, all, Gzip},                          // other parameters ignored
		{",,gzip,,", true, all, Gzip},                              // empty members
		{"gzip;q=0.2, gzip;q=0.9, br;q=0.5", true, all, Brotli},    // first listing counts
	} {
		a := ParseAccept([]byte(tc.h), tc.present)
		if got := a.Choose(tc.avail); got != tc.want {
			t.Errorf("Accept-Encoding %q (present %v), available %03b: chose %s, want %s", tc.h, tc.present, tc.avail, got, tc.want)
		}
	}
}

func TestChooseAllocatesNothing(t *testing.T) {
	h := []byte("gzip, deflate, br;q=0.9, zstd;q=0.95, *;q=0.1")
	n := testing.AllocsPerRun(100, func() { ParseAccept(h, true).Choose(all) })
	if n != 0 {
		t.Fatalf("%v allocations per parse and choice, want 0", n)
	}
}

// FuzzAccept: any field value parses without panic, the choice is
// available (or identity), and a coding is chosen only if the client
// weighs it above zero and at least as high as identity.
func FuzzAccept(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "*;q=0", "identity;q=0, gzip;q=0.001", "br;q=0.5 , gzip ; q=1.0"} {
		f.Add([]byte(s), uint8(all))
	}
	f.Fuzz(func(t *testing.T, h []byte, avail uint8) {
		avail &= all
		a := ParseAccept(h, true)
		c := a.Choose(avail)
		if c == Identity {
			return
		}
		if avail&(1<<c) == 0 {
			t.Fatalf("%q: chose %s, not available (%03b)", h, c, avail)
		}
		if a.Weight(c) <= 0 || a.Weight(c) < a.Weight(Identity) {
			t.Fatalf("%q: chose %s at weight %d, identity at %d", h, c, a.Weight(c), a.Weight(Identity))
		}
		if !bytes.Contains(bytes.ToLower(h), []byte(strings.TrimPrefix(c.Token(), "x-"))) && !bytes.Contains(h, []byte("*")) {
			t.Fatalf("%q: chose %s, which it never named", h, c)
		}
	})
}
