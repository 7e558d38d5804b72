//go:build race

package conformance

import (
	"os"
	"strings"
)

const raceEnabled = true

// The race detector makes every race-built process sleep for a second
// before it exits (GORACE atexit_sleep_ms, default 1000), so that
// goroutines still running may report their races. Each weft a test
// starts and stops paid it, twice over for the process engine (its
// workers, then the supervisor): about half the race suite's wall time.
// Twenty milliseconds keeps most of that chance for a child; an explicit
// atexit_sleep_ms in the environment wins.
func init() {
	g := os.Getenv("GORACE")
	if !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=20"))
	}
}
