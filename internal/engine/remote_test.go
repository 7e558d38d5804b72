package engine

import (
	"net"
	"net/netip"
	"testing"
)

// TestRemoteAddrNil: a connection whose RemoteAddr is nil (golang/go#23022;
// here a closed, zero TCPConn) gets the zero address instead of a panic.
func TestRemoteAddrNil(t *testing.T) {
	if got := RemoteAddrPort(&net.TCPConn{}); got != (netip.AddrPort{}) {
		t.Fatalf("RemoteAddrPort: %v, want the zero value", got)
	}
}
