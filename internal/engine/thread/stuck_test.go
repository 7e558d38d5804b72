package thread_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/thread"
)

// TestShutdownAbandonsStuckHandler: a handler that never returns does not
// hold Serve past the shutdown timeout (plus a second's grace).
func TestShutdownAbandonsStuckHandler(t *testing.T) {
	conformance.ShutdownAbandonsStuckHandler(t, thread.Engine{})
}
