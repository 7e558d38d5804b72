package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/epoll"
	"github.com/weft-server/weft/internal/engine/goroutine"
	"github.com/weft-server/weft/internal/engine/poll"
	"github.com/weft-server/weft/internal/engine/serial"
	"github.com/weft-server/weft/internal/engine/thread"
	"github.com/weft-server/weft/internal/engine/uring"
	"github.com/weft-server/weft/internal/http1"
)

// readerOnly is a File without a descriptor: only ReadAt.
type readerOnly struct{ r *bytes.Reader }

func (f readerOnly) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }

// segmentHandler answers every request with [off, off+n) of body through
// a File that has no descriptor, as an object store's would be.
type segmentHandler struct {
	body   []byte
	off, n int64
}

func (h segmentHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	resp.Status = 200
	resp.AddHeader("Content-Type", "application/octet-stream")
	resp.File, resp.Off, resp.Len = readerOnly{bytes.NewReader(h.body)}, h.off, h.n
}

// TestFileWithoutDescriptor: every engine sends a file segment that can
// only be read with ReadAt (no sendfile), whole and exact, large enough
// to fill the socket several times over.
func TestFileWithoutDescriptor(t *testing.T) {
	body := make([]byte, 3<<20)
	for i := range body {
		body[i] = byte(i * 7 / 5)
	}
	h := segmentHandler{body: body, off: 12345, n: int64(len(body)) - 12345 - 678}
	for name, e := range map[string]engine.Engine{
		"serial": serial.Engine{}, "thread": thread.Engine{}, "goroutine": goroutine.Engine{},
		"poll": poll.Engine{}, "epoll": epoll.Engine{Loops: 1, Workers: 1},
		"uring": uring.Engine{Loops: 1, Workers: 1},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cfg := engine.Config{Handler: h}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.Serve(ctx, ln, cfg.WithDefaults()) }()
			defer func() {
				cancel()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Error("Serve did not return")
				}
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "GET /x HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
			br := bufio.NewReader(c)
			for i := range 2 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				got, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("response %d body: %v", i, err)
				}
				if want := body[h.off : h.off+h.n]; !bytes.Equal(got, want) {
					t.Fatalf("response %d: %d bytes, want %d (equal: %v)", i, len(got), len(want), bytes.Equal(got, want))
				}
			}
		})
	}
}
