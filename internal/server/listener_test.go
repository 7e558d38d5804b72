package server

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/http1"
)

// okHandler answers every request 204.
type okHandler struct{}

func (okHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) { resp.Status = 204 }

// Engine.Serve takes any net.Listener. The goroutine engine serves any
// net.Conn (a unix socket here, TLS connections in production); an engine
// that needs TCP says so with ErrNotTCP and, as Serve must, closes the
// listener it was given.
func TestEnginesOnNonTCPListeners(t *testing.T) {
	for name, e := range Engines(nil) {
		t.Run(name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Skip("no unix sockets here:", err)
			}
			if name == "goroutine" {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- e.Serve(ctx, ln, engine.Config{Handler: okHandler{}}.WithDefaults()) }()
				c, err := net.DialTimeout("unix", sock, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || resp.StatusCode != 204 {
					t.Fatalf("over a unix socket: %v %v", resp, err)
				}
				cancel()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("Serve did not return")
				}
				return
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
