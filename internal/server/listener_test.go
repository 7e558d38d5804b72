package server

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/weft-server/weft/internal/engine"
)

// Engine.Serve takes any net.Listener; an engine that needs TCP says so
// with ErrNotTCP and, as Serve must, closes the listener it was given.
func TestEnginesRefuseNonTCPListeners(t *testing.T) {
	for name, e := range Engines(nil) {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
			if err != nil {
				t.Skip("no unix sockets here:", err)
			}
			err = e.Serve(context.Background(), ln, engine.Config{}.WithDefaults())
			if !errors.Is(err, engine.ErrNotTCP) && !errors.Is(err, engine.ErrUnsupported) {
				t.Fatalf("Serve on a unix listener: %v, want ErrNotTCP", err)
			}
			if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("the listener was left open: Accept gave %v", err)
			}
		})
	}
}
