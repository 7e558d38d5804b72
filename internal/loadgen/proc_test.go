package loadgen

import (
	"os"
	"runtime"
	"testing"
)

func TestParseSmapsRollup(t *testing.T) {
	in := `557145f3a000-7ffe98bd4000 ---p 00000000 00:00 0                          [rollup]
Rss:                1612 kB
Pss:                 372 kB
Pss_Dirty:           112 kB
Shared_Clean:       1456 kB
Private_Clean:        44 kB
Private_Dirty:       112 kB
Referenced:         1612 kB
`
	got := parseSmapsRollup([]byte(in))
	want := Smaps{Rss: 1612 << 10, Pss: 372 << 10, Private: (44 + 112) << 10}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestTreeSmaps(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	if _, err := os.Stat("/proc/self/smaps_rollup"); err != nil {
		t.Skip("no smaps_rollup:", err)
	}
	s, ok := TreeSmaps(os.Getpid())
	if !ok || s.Rss <= 0 || s.Pss <= 0 || s.Private <= 0 || s.Pss > s.Rss {
		t.Fatalf("TreeSmaps(self) = %+v, %v", s, ok)
	}
}
