package engine

import (
	"sync"
	"time"

	"github.com/weft-server/weft/internal/engine/h1conn"
)

// Tracker keeps the open connections of an engine so that shutdown can
// drain them: each is asked to finish (Drain) and woken (kick) if it waits
// idle; after the timeout the rest are cut (kill).
type Tracker struct {
	mu       sync.Mutex
	conns    map[*h1conn.Conn]tracked
	draining bool
	wg       sync.WaitGroup
}

type tracked struct{ kick, kill func() }

// Add tracks c. kick wakes it from a wait for input; kill closes its
// socket. It returns false, tracking nothing, once shutdown has begun.
func (t *Tracker) Add(c *h1conn.Conn, kick, kill func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.draining {
		return false
	}
	if t.conns == nil {
		t.conns = make(map[*h1conn.Conn]tracked)
	}
	t.conns[c] = tracked{kick, kill}
	t.wg.Add(1)
	return true
}

// Remove stops tracking c, once its goroutine is done with it.
func (t *Tracker) Remove(c *h1conn.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

// Shutdown drains every connection and waits for them to go, at most
// timeout; then it kills those left and waits for their goroutines.
func (t *Tracker) Shutdown(timeout time.Duration) {
	t.mu.Lock()
	t.draining = true
	for c, tr := range t.conns {
		c.Drain()
		if !c.Fresh() {
			tr.kick() // a fresh connection is waited for (see h1conn.Conn.Drainable)
		}
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(timeout):
	}
	t.mu.Lock()
	for _, tr := range t.conns {
		tr.kill()
	}
	t.mu.Unlock()
	<-done
}
