package h1conn_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
)

// cutSink takes room bytes, then fails as a socket the client reset does.
type cutSink struct {
	b    []byte
	room int
}

var errReset = errors.New("connection reset by peer")

func (s *cutSink) take(bufs [][]byte) (int64, error) {
	var n int64
	for _, b := range bufs {
		k := min(len(b), s.room)
		s.b = append(s.b, b[:k]...)
		s.room -= k
		n += int64(k)
		if k < len(b) {
			return n, errReset
		}
	}
	return n, nil
}

func (s *cutSink) Writev(bufs [][]byte) (int64, error) { return s.take(bufs) }

func (s *cutSink) SendFile(f http1.File, off, n int64) (int64, error) {
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, off)
	if err != nil && m < int(n) {
		return 0, err
	}
	return s.take([][]byte{buf})
}

// bodyHandler answers with body as bytes, a file segment or a stream
// written in pieces of 1000 bytes.
type bodyHandler struct {
	kind string
	body []byte
}

func (h bodyHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	resp.Status = 200
	switch h.kind {
	case "bytes":
		resp.Body = h.body
	case "file":
		resp.File, resp.Off, resp.Len = bytes.NewReader(h.body), 0, int64(len(h.body))
	case "stream":
		resp.Stream = pieces(h.body)
	}
}

type pieces []byte

func (p pieces) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for b := []byte(p); len(b) > 0; {
		m, err := w.Write(b[:min(1000, len(b))])
		n += int64(m)
		b = b[m:]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// payload counts the body bytes in a prefix of a chunked body.
func payload(wire []byte) int64 {
	var n int64
	for {
		i := bytes.Index(wire, []byte("\r\n"))
		if i < 0 {
			return n
		}
		size, err := strconv.ParseInt(string(wire[:i]), 16, 64)
		if err != nil {
			panic(err)
		}
		wire = wire[i+2:]
		k := min(int64(len(wire)), size)
		n += k
		if k < size || size == 0 {
			return n
		}
		wire = wire[min(len(wire), int(size)+2):]
	}
}

// TestRecordCountsBytesSent: whatever the body (bytes, a file segment, a
// streamed body), however far a client that resets let it go (in the
// head, in the body, to its end), the record tells exactly the bytes the
// sink took: every one (Sent) and the body's (Bytes, without a chunked
// body's framing).
func TestRecordCountsBytesSent(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10000) // 100,000 bytes
	for _, kind := range []string{"bytes", "file", "stream"} {
		for _, cut := range []int{0, 50, 5000, 99999, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", kind, cut), func(t *testing.T) {
				var log records
				cfg := h1conn.Config{Handler: bodyHandler{kind, body}, Log: &log}.WithDefaults()
				now := time.Now()
				c := h1conn.New(cfg, netip.MustParseAddrPort("192.0.2.1:1"), now)
				in := "GET /x HTTP/1.1\r\nHost: t\r\n\r\n"
				c.Received(copy(c.ReadSpace(), in), now)
				c.Process(now)
				s := &cutSink{room: cut}
				err := c.Flush(s, now)
				c.Release()
				if len(log.got) != 1 {
					t.Fatalf("%d records, want 1", len(log.got))
				}
				r := log.got[0]
				head := bytes.Index(s.b, []byte("\r\n\r\n")) + 4
				var want int64
				switch {
				case head < 4: // cut in the head
				case kind == "stream":
					want = payload(s.b[head:])
				default:
					want = int64(len(s.b) - head)
				}
				if r.Sent != int64(len(s.b)) || r.Bytes != want || r.Status != 200 {
					t.Errorf("flush: %v; sink took %d bytes, %d of the body; logged %d and %d, status %d", err, len(s.b), want, r.Sent, r.Bytes, r.Status)
				}
				if cut == 1<<20 && r.Bytes != int64(len(body)) {
					t.Errorf("sent in full: logged %d body bytes, want %d", r.Bytes, len(body))
				}
				if r.Duration < 0 {
					t.Errorf("duration %v", r.Duration)
				}
			})
		}
	}
}
