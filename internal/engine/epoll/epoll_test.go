//go:build linux

package epoll_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/epoll"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.StartEngine(epoll.Engine{}), conformance.Capabilities{Concurrent: true, Refuses: true})
}

// TestSlowUploadOneLoop: with a single loop, a client trickling an upload
// does not hold up the loop's other clients.
func TestSlowUploadOneLoop(t *testing.T) {
	conformance.SlowUpload(t, conformance.StartEngine(epoll.Engine{Loops: 1}))
}

// TestConformanceOrigin runs the suite over an s3:// root (a real
// S3-compatible server: see conformance.StartS3).
func TestConformanceOrigin(t *testing.T) {
	conformance.RunOrigin(t, conformance.StartEngine(epoll.Engine{}), conformance.Capabilities{Concurrent: true, Refuses: true})
}

// TestOriginCases checks deploys, switches, outages, confinement and the
// caches of an s3:// root against a real S3-compatible server.
func TestOriginCases(t *testing.T) {
	conformance.RunOriginCases(t, conformance.StartEngine(epoll.Engine{}))
}
