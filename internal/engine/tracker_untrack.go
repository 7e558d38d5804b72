package engine

import "github.com/weft-server/weft/internal/engine/h1conn"

// Untrack stops Shutdown from kicking or killing c without counting it
// gone: an engine calls it before closing c's socket (so that neither can
// reach a descriptor number already reused), then Remove.
func (t *Tracker) Untrack(c *h1conn.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}
