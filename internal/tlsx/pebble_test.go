package tlsx

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
)

// The pebble harness lives in conformance, shared with the server's ACME
// test.
type (
	pebbleConfig = conformance.PebbleConfig
	lockedBuffer = conformance.LockedBuffer
)

func startPebble(t *testing.T, pc pebbleConfig) *conformance.Pebble {
	return conformance.StartPebble(t, pc)
}

func freePort(t *testing.T) int { return conformance.FreePort(t) }
