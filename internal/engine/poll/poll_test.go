//go:build linux

package poll_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/poll"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.StartEngine(poll.Engine{}), conformance.Capabilities{Concurrent: true, Refuses: true})
}
