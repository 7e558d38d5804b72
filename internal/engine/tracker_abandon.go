package engine

import "time"

// ShutdownAbandon is Shutdown for engines whose connections may be stuck
// in a handler that no socket operation interrupts (a read from a hung
// disk): it drains, kills after timeout like Shutdown, then waits at most
// grace for the connections' goroutines and returns even if some are
// still running. Those finish on their own and then Remove themselves.
// It reports whether every connection was gone.
func (t *Tracker) ShutdownAbandon(timeout, grace time.Duration) bool {
	done := make(chan struct{})
	go func() {
		t.Shutdown(timeout)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout + grace):
		return false
	}
}
