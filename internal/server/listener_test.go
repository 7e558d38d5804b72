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

// Every in-process engine serves a unix socket listener (the process
// engine's workers are tested through the binary: cmd/weft's
// TestUnixSocketEveryEngine).
func TestEnginesOnUnixListeners(t *testing.T) {
	for name, e := range Engines(nil) {
		if name == "process" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			ln, err := Listen("unix:" + sock)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.Serve(ctx, ln, engine.Config{Handler: okHandler{}}.WithDefaults()) }()
			c, err := net.DialTimeout("unix", sock, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			for i := 0; i < 2; i++ { // two requests on one connection
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != 204 {
					t.Fatalf("request %d over a unix socket: %v %v", i, resp, err)
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, net.ErrClosed) {
					t.Fatalf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return")
			}
		})
	}
}

// notSocket is a listener with no descriptor (as a TLS listener).
type notSocket struct{ net.Listener }

// An engine that needs a socket says so with ErrNotSocket for another
// listener and, as Serve must, closes the listener it was given; the
// goroutine engine serves any listener.
func TestEnginesOnOtherListeners(t *testing.T) {
	for name, e := range Engines(nil) {
		if name == "goroutine" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = e.Serve(context.Background(), notSocket{inner}, engine.Config{}.WithDefaults())
			if !errors.Is(err, engine.ErrNotSocket) && !errors.Is(err, engine.ErrUnsupported) {
				t.Fatalf("Serve on a listener with no socket: %v, want ErrNotSocket", err)
			}
			if _, err := inner.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("the listener was left open: Accept gave %v", err)
			}
		})
	}
}
