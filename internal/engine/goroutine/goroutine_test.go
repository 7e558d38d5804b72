package goroutine_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/goroutine"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.StartEngine(goroutine.Engine{}), conformance.Capabilities{Concurrent: true})
}
