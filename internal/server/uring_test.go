package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/netpoll/uring"
	"github.com/weft-server/weft/internal/site"
)

// TestUringUnavailableRefused: where io_uring cannot be used (an old
// kernel, io_uring_disabled, a seccomp filter), --engine uring fails at
// start with one line naming the cause and the way out, before binding
// anything; auto does not pick it.
func TestUringUnavailableRefused(t *testing.T) {
	saved := uringAvailable
	defer func() { uringAvailable = saved }()
	uringAvailable = func() error {
		return fmt.Errorf("%w: io_uring_setup: operation not permitted", uring.ErrUnsupported)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Run(ctx, Config{Addr: "127.0.0.1:0", Engine: "uring", Site: site.Config{Root: t.TempDir()}})
	if err == nil {
		t.Fatal("Run with --engine uring succeeded where io_uring is unavailable")
	}
	msg := err.Error()
	want := "weft: engine uring cannot run here (io_uring is not available: io_uring_setup: operation not permitted); use --engine epoll or auto"
	if msg != want || strings.Contains(msg, "\n") {
		t.Errorf("error %q, want %q", msg, want)
	}
	if _, name, err := pickEngine(&Config{}, "auto"); err != nil || name == "uring" {
		t.Errorf("auto picked %q (%v) where io_uring is unavailable", name, err)
	}
}
