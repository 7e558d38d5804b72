package h1conn

import (
	"errors"
	"io"
	"os"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// bodyReader is the Request.Body of a request whose handler takes its
// body (see http1.BodyHandler), on a blocking connection: it reads
// straight from the Stream through the connection's framing state
// (c.body), first what arrived with the head, then the socket. Its read
// clock restarts with every byte: a body that stalls for IdleTimeout
// fails. The input buffer is never compacted or refilled while the
// handler runs (the request views it), so bytes read from the socket go
// to the caller's buffer (a Content-Length body, read no further than its
// end) or to buf (chunked framing; what follows the body there is not
// kept: the connection closes after the answer).
type bodyReader struct {
	c      *Conn
	s      Stream
	limit  int64  // most data bytes the handler may read
	n      int64  // data bytes delivered
	expect bool   // send 100 Continue before the first read from the socket
	buf    []byte // chunked input read from the socket
	br, bw int    // unread bytes are buf[br:bw]
	err    error  // sticky
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// errBodyTimeout is a body that stalled past the connection's idle timeout.
var errBodyTimeout = errors.New("weft: request body timed out")

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	c := b.c
	for {
		if !c.body.active() {
			return 0, io.EOF
		}
		// What has arrived already: the input buffer, then buf.
		src, from := b.buf[b.br:b.bw], &b.br
		if c.r < c.w {
			src, from = (*c.in)[c.r:c.w], &c.r
		}
		if len(src) > 0 {
			n, err := b.take(p, src, from)
			if n > 0 || err != nil {
				return n, err
			}
			continue // framing only
		}
		n, err := b.fill(p)
		if err != nil {
			return 0, b.fail(err)
		}
		if !c.body.chunked {
			if c.body.left -= int64(n); c.body.left == 0 {
				c.body = body{}
			}
			return b.deliver(n)
		}
	}
}

// take decodes data from src (the input buffer or buf), advancing *from.
func (b *bodyReader) take(p, src []byte, from *int) (int, error) {
	c := b.c
	if !c.body.chunked {
		n := int(min(int64(len(src)), c.body.left, int64(len(p))))
		copy(p, src[:n])
		*from += n
		if c.body.left -= int64(n); c.body.left == 0 {
			c.body = body{}
		}
		return b.deliver(n)
	}
	// Cut to len(p), so that the data Next consumes fits in p.
	n, data, err := c.body.dec.Next(src[:min(len(src), len(p))], c.cfg.Limits.MaxHeadBytes)
	*from += n
	if err != nil {
		return 0, b.fail(err)
	}
	copy(p, data)
	if c.body.dec.Done() {
		c.body = body{}
	}
	return b.deliver(len(data))
}

// deliver counts n data bytes against the limit.
func (b *bodyReader) deliver(n int) (int, error) {
	b.n += int64(n)
	if b.n > b.limit {
		return 0, b.fail(http1.ErrBodyTooLarge)
	}
	if n == 0 {
		return 0, nil
	}
	return n, nil
}

func (b *bodyReader) fail(err error) error {
	b.err = err
	return err
}

// fill waits for more of the body: for a Content-Length body it reads
// into p, no further than the body's end, and returns the count; for a
// chunked one it refills buf.
func (b *bodyReader) fill(p []byte) (int, error) {
	c := b.c
	if b.expect {
		b.expect = false
		if _, err := b.s.Writev([][]byte{continue100}); err != nil {
			return 0, err
		}
	}
	dst := p
	if c.body.chunked {
		if b.buf == nil {
			b.buf = make([]byte, 32<<10)
		}
		b.br, b.bw = 0, 0
		dst = b.buf
	} else if int64(len(dst)) > c.body.left {
		dst = dst[:c.body.left]
	}
	for {
		deadline := time.Now().Add(c.cfg.IdleTimeout)
		if err := b.s.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
		n, err := b.s.Read(dst)
		if n > 0 {
			c.lastActive = time.Now().UnixNano()
			if c.body.chunked {
				b.bw = n
				return 0, nil
			}
			return n, nil
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(deadline):
			continue // woken by a drain, or a per-read timeout: finish the body
		case errors.Is(err, os.ErrDeadlineExceeded):
			return 0, errBodyTimeout
		case err == io.EOF:
			return 0, io.ErrUnexpectedEOF
		}
		return 0, err
	}
}
