//go:build linux

package thread_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/thread"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.StartEngine(thread.Engine{}), conformance.Capabilities{Concurrent: true})
}
