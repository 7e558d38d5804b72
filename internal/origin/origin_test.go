package origin

import "testing"

func TestCheckName(t *testing.T) {
	for _, name := range []string{".", "a", "a/b.txt", ".well-known/x", ".weftish"} {
		if checkName(name) != nil {
			t.Errorf("%q refused", name)
		}
	}
	for _, name := range []string{"", "/a", "a/", "a//b", "../a", "a/../b", "./a", `a\b`, "a\x00b", ".weft", ".weft/current", ".weft/objects/x"} {
		if checkName(name) == nil {
			t.Errorf("%q accepted", name)
		}
	}
}
