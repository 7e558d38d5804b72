//go:build linux

package epoll_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/epoll"
)

// TestMaxConnsAcrossLoops: see conformance.MaxConnsAcrossLoops.
func TestMaxConnsAcrossLoops(t *testing.T) {
	conformance.MaxConnsAcrossLoops(t, conformance.StartEngine(epoll.Engine{Loops: 8}))
}
