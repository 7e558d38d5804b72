package server

import "testing"

// DelayStopping makes the goroutine that a server's context's end starts
// wait d before it says STOPPING=1, until t ends.
func DelayStopping(t *testing.T, d func()) {
	beforeStopping.Store(&d)
	t.Cleanup(func() { beforeStopping.Store(nil) })
}
