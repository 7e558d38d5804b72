//go:build !unix

package process

import (
	"context"
	"net"

	"github.com/weft-server/weft/internal/engine"
)

// Serve reports that prefork needs a Unix system.
func (Engine) Serve(ctx context.Context, ln net.Listener, cfg *engine.Config) error {
	return engine.Unsupported(ln)
}
