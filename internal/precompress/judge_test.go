package precompress

import "testing"

// TestJudge is the rule table of the package documentation, case by case.
func TestJudge(t *testing.T) {
	cases := []struct {
		name string
		f    facts
		want state
	}{
		{"Missing", facts{eligible: true}, compress},
		{"Fresh", facts{eligible: true, present: true}, upToDate},
		{"Stale", facts{eligible: true, present: true, stale: true}, compress},
		{"Forced", facts{eligible: true, present: true, force: true}, compress},
		{"NoGainRemembered", facts{eligible: true, noGain: true}, upToDate},
		{"NoGainRememberedStaleSidecar", facts{eligible: true, noGain: true, present: true, stale: true}, drop},
		{"NoGainForced", facts{eligible: true, noGain: true, force: true}, compress},
		{"SmallNone", facts{}, upToDate},
		{"SmallFresh", facts{present: true}, upToDate},
		{"SmallStale", facts{present: true, stale: true}, drop},
		{"SmallForced", facts{force: true}, upToDate},
	}
	for _, tc := range cases {
		if got := judge(tc.f); got != tc.want {
			t.Errorf("%s: judge(%+v) = %d, want %d", tc.name, tc.f, got, tc.want)
		}
	}
}
