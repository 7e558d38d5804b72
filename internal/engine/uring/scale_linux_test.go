package uring_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/uring"
)

// keepAliveBound is the epoll engine's bound (see its Test10kKeepAlive):
// an idle connection holds no read buffer here either, the kernel
// picking one from the loop's ring only when data arrives.
const keepAliveBound = 2048

// Test10kKeepAlive: see conformance.KeepAliveMany.
func Test10kKeepAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin, cleanup, err := conformance.BuildBinary("../../..")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if per := conformance.KeepAliveMany(t, bin, "uring", 10000); per > keepAliveBound {
		t.Errorf("%.0f bytes of resident set per idle connection, want at most %d", per, keepAliveBound)
	}
}

// TestMaxConnsAcrossLoops: see conformance.MaxConnsAcrossLoops.
func TestMaxConnsAcrossLoops(t *testing.T) {
	conformance.MaxConnsAcrossLoops(t, conformance.StartEngine(uring.Engine{Loops: 8}))
}

// TestShutdownAbandonsStuckHandler: a handler that never returns does not
// hold Serve past the shutdown timeout.
func TestShutdownAbandonsStuckHandler(t *testing.T) {
	conformance.ShutdownAbandonsStuckHandler(t, uring.Engine{Loops: 1, Workers: 1})
}
