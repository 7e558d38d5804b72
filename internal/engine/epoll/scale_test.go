//go:build linux

package epoll_test

import (
	"testing"

	"github.com/weft-server/weft/internal/conformance"
)

// Test10kKeepAlive: see conformance.KeepAliveMany.
func Test10kKeepAlive(t *testing.T) {
	conformance.KeepAliveMany(t, "../../..", "epoll", 10000)
}
