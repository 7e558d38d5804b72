//go:build !linux

package engine

// finalScratch is unused where NetStream is not a Finisher.
type finalScratch = struct{}

// writevFinal is never reached here: NetStream is not a Finisher, so
// final stays false.
func (s *NetStream) writevFinal(bufs [][]byte) (int64, bool, error) { return 0, false, nil }
