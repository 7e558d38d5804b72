package main

import (
	"runtime"
	"testing"

	"github.com/weft-server/weft/internal/conformance"
)

// TestDownloadMemory: the README's claim that a folder download costs
// constant memory, for the binary as users run it (the default engine):
// a zip of 2 GiB of files (sparse, stored) streams with the process's
// peak resident set (VmHWM) less than 32 MiB over its resident set
// before.
func TestDownloadMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	size := int64(2 << 30)
	if testing.Short() {
		size = 256 << 20
	}
	grew, took := conformance.DownloadMemory(t, conformance.StartBinary(weftBin(t)), size)
	t.Logf("a zip of %d MiB of files streamed in %v; VmHWM grew by %.1f MiB over VmRSS before", size>>20, took, float64(grew)/(1<<20))
	if grew >= 32<<20 {
		t.Errorf("memory grew by %.1f MiB, want less than 32", float64(grew)/(1<<20))
	}
}
