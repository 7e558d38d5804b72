package goroutine_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/goroutine"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.StartEngine(goroutine.Engine{}), conformance.Capabilities{Concurrent: true})
}

// TestConformanceOrigin runs the suite over an s3:// root (a real
// S3-compatible server: see conformance.StartS3).
func TestConformanceOrigin(t *testing.T) {
	conformance.RunOrigin(t, conformance.StartEngine(goroutine.Engine{}), conformance.Capabilities{Concurrent: true})
}

// TestOriginCases checks deploys, switches, outages, confinement and the
// caches of an s3:// root against a real S3-compatible server.
func TestOriginCases(t *testing.T) {
	conformance.RunOriginCases(t, conformance.StartEngine(goroutine.Engine{}))
}
