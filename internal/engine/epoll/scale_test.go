//go:build linux

package epoll_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
)

// keepAliveBound is the most an answered idle keep-alive connection may
// add to the server's resident set, its Go heap's slack included: a few
// hundred bytes of state, no buffers. The uring engine is held to the
// same bound.
const keepAliveBound = 2048

// Test10kKeepAlive holds 10,000 keep-alive connections open at once, each
// having been answered, and checks that every one still works, that a
// newcomer is served promptly, and that idle connections hold no buffers
// (see conformance.KeepAliveMany).
func Test10kKeepAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin, cleanup, err := conformance.BuildBinary("../../..")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if per := conformance.KeepAliveMany(t, bin, "epoll", 10000); per > keepAliveBound {
		t.Errorf("%.0f bytes of resident set per idle connection, want at most %d", per, keepAliveBound)
	}
}
