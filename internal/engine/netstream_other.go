//go:build !linux

package engine

import (
	"net"

	"github.com/weft-server/weft/internal/http1"
)

// listenerPending cannot tell here whether a connection waits: it assumes
// one does.
func listenerPending(net.Listener) bool { return true }

// finalScratch is unused where NetStream writes through the portable path.
type finalScratch = struct{}

// rawWrite is unused where NetStream writes through the portable path.
type rawWrite struct{}

func (s *NetStream) initRaw() {}

// writevRaw is not available here: ok is false, and Writev writes through
// the net.Conn.
func (s *NetStream) writevRaw(bufs [][]byte) (int64, bool, error) { return 0, false, nil }

// sendFileRaw is not available here: ok is false, and SendFile copies.
func (s *NetStream) sendFileRaw(f http1.File, off, n int64) (int64, bool, error) {
	return 0, false, nil
}
