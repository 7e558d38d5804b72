package h1conn_test

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
)

// partsHandler answers with two halves of body as a multipart range
// response: each part's boundary is queued between file segments.
type partsHandler struct{ body []byte }

func (h partsHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	resp.Status = 206
	f := bytes.NewReader(h.body)
	half := int64(len(h.body) / 2)
	resp.Parts = []http1.Part{
		{Head: []byte("\r\n--b\r\nContent-Range: bytes 0-x\r\n\r\n"), File: f, Off: 0, Len: half},
		{Head: []byte("\r\n--b\r\nContent-Range: bytes x-y\r\n\r\n"), File: f, Off: half, Len: half},
		{Head: []byte("\r\n--b--\r\n")},
	}
}

// corkSink records, in order, the head and body writes it takes and the
// cork calls around them. Each Flush takes at most chunk body bytes, then
// would block, as an event loop's sink does at the end of its turn.
type corkSink struct {
	ops    []string
	corked bool
	chunk  int64
	left   int64
	wire   []byte
}

// Cork and Uncork record changes only, as netpoll.TCPOpts makes system
// calls only for them.
func (s *corkSink) Cork() {
	if !s.corked {
		s.ops, s.corked = append(s.ops, "cork"), true
	}
}

func (s *corkSink) Uncork() {
	if s.corked {
		s.ops, s.corked = append(s.ops, "uncork"), false
	}
}

func (s *corkSink) Writev(bufs [][]byte) (int64, error) {
	var n int64
	for _, b := range bufs {
		s.wire = append(s.wire, b...)
		n += int64(len(b))
	}
	s.ops = append(s.ops, "head"+s.state())
	return n, nil
}

func (s *corkSink) SendFile(f http1.File, off, n int64) (int64, error) {
	if s.left == 0 {
		return 0, h1conn.ErrWouldBlock
	}
	n = min(n, s.left)
	s.left -= n
	b := make([]byte, n)
	f.ReadAt(b, off)
	s.wire = append(s.wire, b...)
	s.ops = append(s.ops, "body"+s.state())
	return n, nil
}

func (s *corkSink) state() string {
	if s.corked {
		return "(corked)"
	}
	return ""
}

// TestCorkPolicy: a large file body is corked from its head to its end by
// default (nginx's tcp_nopush), and only around its head and first chunk
// with SetHeadCork (lighttpd's way, the event loops'); the bytes are the
// same either way, and nothing is left corked at the end.
func TestCorkPolicy(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, above CorkAbove
	for _, tc := range []struct {
		headCork bool
		h        http1.Handler
		want     []string
	}{
		{false, bodyHandler{"file", body}, []string{"cork", "head(corked)", "body(corked)", "body(corked)", "body(corked)", "body(corked)", "uncork"}},
		{true, bodyHandler{"file", body}, []string{"cork", "head(corked)", "body(corked)", "uncork", "body", "body", "body"}},
		// A multipart body is not corked again on every turn while
		// boundaries wait behind the file's segments (out.queued >
		// out.files): only a turn that starts with bytes corks.
		{true, partsHandler{body}, []string{"cork", "head(corked)", "body(corked)", "uncork", "body", "head", "body", "body", "head"}},
	} {
		cfg := h1conn.Config{Handler: tc.h}.WithDefaults()
		now := time.Now()
		c := h1conn.New(cfg, netip.MustParseAddrPort("192.0.2.1:1"), now)
		c.SetHeadCork(tc.headCork)
		in := "GET /x HTTP/1.1\r\nHost: t\r\n\r\n"
		c.Received(copy(c.ReadSpace(), in), now)
		c.Process(now)
		s := &corkSink{chunk: 256 << 10}
		var err error
		for range 10 {
			s.left = s.chunk
			if err = c.Flush(s, now); err != h1conn.ErrWouldBlock {
				break
			}
		}
		c.Release()
		if err != nil {
			t.Fatalf("headCork %v: flush: %v", tc.headCork, err)
		}
		if !slices.Equal(s.ops, tc.want) {
			t.Errorf("headCork %v: %s, want %s", tc.headCork, strings.Join(s.ops, " "), strings.Join(tc.want, " "))
		}
		if _, parts := tc.h.(partsHandler); parts {
			if n := len(s.wire); n < len(body) || !bytes.Contains(s.wire, body[:len(body)/2]) {
				t.Errorf("headCork %v: multipart: %d bytes sent", tc.headCork, n)
			}
		} else if head := bytes.Index(s.wire, []byte("\r\n\r\n")) + 4; head < 4 || !bytes.Equal(s.wire[head:], body) {
			t.Errorf("headCork %v: the body sent is not the file's", tc.headCork)
		}
		if s.corked {
			t.Errorf("headCork %v: left corked", tc.headCork)
		}
	}
}
