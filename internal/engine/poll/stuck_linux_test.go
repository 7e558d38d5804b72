//go:build linux

package poll_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/poll"
)

// TestShutdownAbandonsStuckHandler: a handler that never returns does not
// hold Serve past the shutdown timeout (plus a second's grace).
func TestShutdownAbandonsStuckHandler(t *testing.T) {
	conformance.ShutdownAbandonsStuckHandler(t, poll.Engine{})
}

// TestShutdownCutsUploadPastTimeout: see
// conformance.ShutdownCutsUploadPastTimeout.
func TestShutdownCutsUploadPastTimeout(t *testing.T) {
	conformance.ShutdownCutsUploadPastTimeout(t, poll.Engine{})
}
