package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// TestSecureStartFailsCleanly: --http3 on a UDP port in use, or
// --redirect-http on a busy TCP port, makes Run fail at once, with the
// TLS port free again and no goroutine left behind.
func TestSecureStartFailsCleanly(t *testing.T) {
	certs := conformance.NewCerts(t)
	root := conformance.Tree(t)
	busyTCP, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyTCP.Close()
	for _, what := range []string{"http3", "redirect"} {
		udp, addr := busyUDPFreeTCP(t)
		before := goroutines()
		tcfg := tlsWith(certs)
		if what == "http3" {
			tcfg.HTTP3 = true
		} else {
			tcfg.RedirectHTTP = busyTCP.Addr().String()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		err = server.Run(ctx, server.Config{
			Addr: addr, Engine: "goroutine", Site: site.Config{Root: root}, TLS: tcfg,
			Stdout: io.Discard, ErrorLog: slog.New(slog.DiscardHandler),
			OnListen: func(net.Addr) { t.Errorf("%s: listening despite the busy port", what) },
		})
		cancel()
		udp.Close()
		if err == nil {
			t.Fatalf("%s: Run returned nil", what)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: Run failed only at its context's deadline (%v after the start): %v", what, time.Since(start), err)
		}
		ln, lerr := net.Listen("tcp", addr)
		if lerr != nil {
			t.Errorf("%s: TLS port still held after the failure: %v", what, lerr)
		} else {
			ln.Close()
		}
		deadline := time.Now().Add(3 * time.Second)
		for goroutines() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := goroutines(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%s: %d goroutines, %d before (%v):\n%s", what, n, before, err, buf[:runtime.Stack(buf, true)])
		}
		t.Logf("%s: %v", what, err)
	}
}

// goroutines counts the goroutines but os/signal's, which the first
// signal.Notify starts for good.
func goroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("\ngoroutine ")) + 1 - bytes.Count(buf, []byte("os/signal.loop("))
}

// busyUDPFreeTCP holds a UDP port on loopback whose TCP port of the same
// number was free a moment ago (tried until one is: another test may hold
// the TCP port of a UDP port picked at random), and returns its address.
func busyUDPFreeTCP(t *testing.T) (net.PacketConn, string) {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		udp, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err == nil {
			return udp, addr
		}
	}
	t.Fatal("no loopback port free for both TCP and UDP in 100 tries")
	return nil, ""
}
