package goroutine

import (
	"net"
	"net/netip"
	"testing"
)

// TestRemoteAddrNil: a connection whose RemoteAddr is nil (golang/go#23022;
// here a closed, zero TCPConn) gets the zero address instead of a panic.
func TestRemoteAddrNil(t *testing.T) {
	if got := remoteAddrPort(&net.TCPConn{}); got != (netip.AddrPort{}) {
		t.Fatalf("remoteAddrPort: %v, want the zero value", got)
	}
}
