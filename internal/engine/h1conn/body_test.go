package h1conn_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
)

// pieceStream is a Stream whose reads return the input in pieces of
// random sizes, then EOF; it keeps what is written.
type pieceStream struct {
	in  string
	rnd *rand.Rand
	out bytes.Buffer
}

func (s *pieceStream) Read(p []byte) (int, error) {
	if s.in == "" {
		return 0, io.EOF
	}
	n := min(len(p), len(s.in), 1+s.rnd.IntN(97))
	copy(p, s.in[:n])
	s.in = s.in[n:]
	return n, nil
}

func (s *pieceStream) Writev(bufs [][]byte) (int64, error) {
	var n int64
	for _, b := range bufs {
		s.out.Write(b)
		n += int64(len(b))
	}
	return n, nil
}

func (s *pieceStream) SendFile(f http1.File, off, n int64) (int64, error) {
	return 0, io.ErrUnexpectedEOF
}
func (s *pieceStream) SetReadDeadline(time.Time) error { return nil }
func (s *pieceStream) CloseWrite() error               { return nil }

// bodySink takes the bodies of PUT requests, up to limit, and answers
// 201 (200 for others), or the status of the read's error.
type bodySink struct {
	limit int64
	got   []string
}

func (h *bodySink) BodyLimit(req *http1.Request) int64 {
	if req.Method == http1.MethodPut {
		return h.limit
	}
	return 0
}

func (h *bodySink) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	if req.Body == nil {
		http1.ErrorPage(resp, 200)
		return
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		http1.ErrorPage(resp, http1.StatusOf(err))
		return
	}
	h.got = append(h.got, string(b))
	resp.Status = 201
	resp.AddHeader("X-Path", string(req.Path)) // the head's views outlive the body's reads
}

func chunked(body string, size int) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&b, "%x;ext=1\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	return b.String() + "0\r\nTrailer: x\r\n\r\n"
}

// serveLikeALoop serves s as an event loop does (see evloop): input in
// through ReadSpace, Received and Process; a request whose handler takes
// its body goes to ServeBody, which reads the rest of its body from s
// itself, then Resume; answers out with Flush.
func serveLikeALoop(c *h1conn.Conn, s *pieceStream) {
	defer c.Release()
	c.SetBodyOffload(true)
	for {
		n, err := s.Read(c.ReadSpace())
		now := time.Now()
		c.Received(n, now)
		c.Process(now)
		for c.TakesBody() {
			c.ServeBody(s)
			c.Resume(time.Now())
		}
		if c.Pending() && c.Flush(s, now) != nil {
			return
		}
		if err != nil || c.Done() {
			return
		}
	}
}

// TestBodyToHandler runs ServeStream, and an event loop's way of serving
// (serveLikeALoop), over input cut in random pieces: the handler reads
// exactly the body sent, whatever the framing, and the connection goes on
// after it (or closes, after a chunked body, when it read past the body's
// end).
func TestBodyToHandler(t *testing.T) {
	for _, mode := range []struct {
		name  string
		serve func(*h1conn.Conn, *pieceStream)
	}{
		{"stream", func(c *h1conn.Conn, s *pieceStream) { h1conn.ServeStream(c, s) }},
		{"loop", serveLikeALoop},
	} {
		t.Run(mode.name, func(t *testing.T) { testBodyToHandler(t, mode.serve) })
	}
}

func testBodyToHandler(t *testing.T, serve func(*h1conn.Conn, *pieceStream)) {
	body := strings.Repeat("0123456789abcdef", 1000) + "tail"
	get := "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
	cases := []struct {
		name   string
		in     string
		status []int // answers in order; a second one is optional after a chunked body
		maybe  bool
	}{
		{"length", fmt.Sprintf("PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(body), body) + get, []int{201, 200}, false},
		{"chunked", "PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, 1000) + get, []int{201, 200}, true},
		{"continue", fmt.Sprintf("PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n%s", len(body), body), []int{100, 201}, false},
		{"over the limit", fmt.Sprintf("PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", 20000, strings.Repeat("x", 20000)) + get, []int{413}, false},
		{"chunked over the limit", "PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(strings.Repeat("x", 20000), 3000) + get, []int{413}, false},
		{"cut", fmt.Sprintf("PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(body)+10, body), []int{400}, false},
		{"bad framing", "PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdefg\r\n0\r\n\r\n" + get, []int{400}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(50) {
				h := &bodySink{limit: 17000}
				cfg := h1conn.Config{Handler: h}.WithDefaults()
				conn := h1conn.New(cfg, netip.AddrPort{}, time.Now())
				s := &pieceStream{in: c.in, rnd: rand.New(rand.NewPCG(seed, 1))}
				serve(conn, s)
				var got []int
				out := s.out.String()
				for {
					i := strings.Index(out, "HTTP/1.1 ")
					if i < 0 {
						break
					}
					var st int
					fmt.Sscanf(out[i+9:], "%d", &st)
					got = append(got, st)
					out = out[i+9:]
				}
				want := c.status
				if c.maybe && len(got) == len(want)-1 {
					want = want[:len(got)]
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("seed %d: answers %v, want %v\n%s", seed, got, want, s.out.String())
				}
				if got[len(got)-1] == 201 || (len(got) > 1 && got[0] == 201) {
					if len(h.got) != 1 || h.got[0] != body {
						t.Fatalf("seed %d: the handler read %d bodies, the first of %d bytes", seed, len(h.got), len(h.got[0]))
					}
					if !strings.Contains(s.out.String(), "X-Path: /up\r\n") {
						t.Fatalf("seed %d: the request's path changed while its body was read\n%s", seed, s.out.String())
					}
				}
			}
		})
	}
}
