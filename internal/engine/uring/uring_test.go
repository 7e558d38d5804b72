//go:build linux

package uring_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/uring"
)

func TestConformance(t *testing.T) {
	if err := uring.Available(); err != nil {
		t.Fatalf("io_uring is unavailable, so the uring engine cannot be tested here: %v", err)
	}
	conformance.Run(t, conformance.StartEngine(uring.Engine{}), conformance.Capabilities{Concurrent: true, Refuses: true, NoUploads: true})
}
