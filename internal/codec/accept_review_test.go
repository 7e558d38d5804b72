// Regression tests from an adversarial review of the representations
// (issue 8). A test's comment describes the defect it caught, in the code
// as it was then; every one passes since the fixes that followed.

package codec

import "testing"

// TestMalformedWeightIsNotFullWeight: "gzip;q = 0" (spaces around
// "=", not allowed by RFC 9110 §12.4.2: weight = OWS ";" OWS "q=" qvalue)
// is meant as a refusal; ParseAccept's doc says a member whose weight is
// malformed is skipped, but weight() takes "q = 0" for some other
// parameter, ignores it and gives gzip the full weight 1 (accept.go weight:
// p[1] != '=' → continue). Treat a parameter named q (after trimming) whose
// syntax is wrong as a malformed weight.
func TestMalformedWeightIsNotFullWeight(t *testing.T) {
	for _, h := range []string{"gzip;q = 0", "gzip;q =0", "gzip; Q= 0", "br;q=0 , gzip;q\t=\t0"} {
		a := ParseAccept([]byte(h), true)
		if c := a.Choose(1 << Gzip); c == Gzip {
			t.Errorf("Accept-Encoding %q: chose gzip at weight %d", h, a.Weight(Gzip))
		}
	}
}
