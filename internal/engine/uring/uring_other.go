//go:build !linux

package uring

import (
	"context"
	"net"

	"github.com/weft-server/weft/internal/engine"
)

// Serve reports that this engine needs Linux.
func (Engine) Serve(ctx context.Context, ln net.Listener, cfg *engine.Config) error {
	return engine.Unsupported(ln)
}

// Available reports whether the engine can run here: never on this OS.
func Available() error { return engine.ErrUnsupported }
