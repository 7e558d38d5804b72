package h2

import (
	"errors"
	"io"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/weft-server/weft/internal/http1"
)

// run answers st on its own goroutine: the handler's answer (unless
// planned: the answer is made and only waits for window), then its body,
// written under the connection's lock as the windows allow.
func (st *stream) run(planned bool) {
	c := st.c
	req, resp := &st.req, &st.resp
	defer func() {
		if p := recover(); p != nil {
			c.s.ErrorLog.Error("HTTP/2 handler panicked", "panic", p, "stream", st.id)
			c.mu.Lock()
			c.resetLocked(st.id, http2.ErrCodeInternal)
			c.mu.Unlock()
		}
		if resp.Closer != nil {
			resp.Closer.Close()
			resp.Closer = nil
		}
		c.mu.Lock()
		st.running = false
		c.running--
		c.doneLocked(st)
		if !c.inBatch {
			c.flushLocked()
		}
		c.mu.Unlock()
		st.release()
	}()
	if !planned {
		c.s.Handler.ServeHTTP1(req, resp)
	}
	n := bodyLen(st)
	c.mu.Lock()
	if st.reset || c.err != nil {
		c.mu.Unlock()
		return
	}
	c.headLocked(st, resp.Status, n == 0)
	st.left = n // the last DATA carries END_STREAM when the length is known
	c.mu.Unlock()
	if n == 0 {
		return
	}
	var err error
	switch {
	case resp.Stream != nil:
		_, err = resp.Stream.WriteTo(st)
	case resp.File != nil:
		err = http1.CopySegment(st, resp.File, resp.Off, resp.Len)
	case len(resp.Parts) > 0:
		for i := range resp.Parts {
			p := &resp.Parts[i]
			if _, err = st.Write(p.Head); err != nil {
				break
			}
			if _, err = st.Write(p.Data); err != nil {
				break
			}
			if p.File != nil {
				if err = http1.CopySegment(st, p.File, p.Off, p.Len); err != nil {
					break
				}
			}
		}
	default:
		_, err = st.Write(resp.Body)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case st.reset || c.err != nil:
	case err != nil || st.left > 0:
		c.resetLocked(st.id, http2.ErrCodeInternal) // cut, never ended as if whole
	case st.left == 0: // ended by the last DATA
	default:
		if werr := c.fr.WriteData(st.id, true, nil); werr != nil {
			c.brokenLocked(werr)
		}
	}
}

// Write sends p as DATA on st, waiting for window as the client grants
// it; it fails once the stream is reset or the connection ends. Many
// streams' goroutines wait in turn on the connection's cond.
func (st *stream) Write(p []byte) (int, error) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for len(p) > 0 {
		if c.err == nil && !st.reset && (c.sendWindow <= 0 || st.sendWindow <= 0) {
			c.waitWindowLocked(st)
		}
		if c.err != nil {
			return n, c.err
		}
		if st.reset {
			return n, errReset
		}
		k := int(min(int64(len(p)), c.sendWindow, st.sendWindow))
		end := false
		if st.left >= 0 {
			if int64(k) > st.left {
				return n, errTooLong
			}
			st.left -= int64(k)
			end = st.left == 0
		}
		c.dataLocked(st, p[:k], end)
		p = p[k:]
		n += k
	}
	if !c.inBatch {
		c.flushLocked()
	}
	return n, c.err
}

// waitWindowLocked waits until st may send (both windows open), the
// stream is reset or the connection ends. A client that grants no window
// for WriteByteTimeout has stopped taking the answer, as one whose socket
// takes no byte: the stream is reset (CANCEL), so that its goroutine and
// the file it sends are not held for as long as the connection lives.
func (c *conn) waitWindowLocked(st *stream) {
	stalled := false
	t := time.AfterFunc(c.lim.WriteByteTimeout, func() {
		c.mu.Lock()
		stalled = true
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer t.Stop()
	for c.err == nil && !st.reset && (c.sendWindow <= 0 || st.sendWindow <= 0) {
		if stalled {
			c.resetLocked(st.id, http2.ErrCodeCancel)
			return
		}
		c.flushLocked() // what the client must see to grant more
		if c.err == nil {
			c.cond.Wait()
		}
	}
}

// errTooLong is a body longer than its planned length.
var errTooLong = errors.New("weft: HTTP/2 body longer than planned")

// pipe is an upload's body: the read side puts DATA in, the handler reads
// it; what it reads is given back to the client as window. The client's
// window bounds what it holds.
type pipe struct {
	st     *stream
	limit  int64
	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte
	err    error // io.EOF at the end, errReset
	read   int64
	opened bool
}

func newPipe(st *stream, limit int64) *pipe {
	p := &pipe{st: st, limit: limit}
	p.cond.L = &p.mu
	return p
}

// put adds data to the body and reports whether it was taken: not once
// the body ended or failed (the caller gives its window back).
func (p *pipe) put(data []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return false
	}
	p.buf = append(p.buf, data...)
	p.cond.Signal()
	return true
}

// drop ends the body for a reset stream and returns the bytes dropped
// unread.
func (p *pipe) drop() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.buf)
	p.buf = nil
	if p.err == nil || p.err == io.EOF {
		p.err = errReset
	}
	p.cond.Broadcast()
	return n
}

func (p *pipe) end(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// waitLocked waits for body bytes or the body's end; a client that sends
// no byte of it for timeout fails the read (errBodyTimeout), as over
// HTTP/1.1, so that a stalled upload does not hold its handler for as
// long as the connection lives.
func (p *pipe) waitLocked(timeout time.Duration) {
	fired := false
	t := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		fired = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	for len(p.buf) == 0 && p.err == nil && !fired {
		p.cond.Wait()
	}
	t.Stop()
	if len(p.buf) == 0 && p.err == nil {
		p.err = errBodyTimeout
	}
}

// errBodyTimeout is a request body that stalled past the idle timeout.
var errBodyTimeout = errors.New("weft: HTTP/2 request body timed out")

// Read is the handler's: the first one answers Expect: 100-continue.
func (p *pipe) Read(b []byte) (int, error) {
	st, c := p.st, p.st.c
	if !p.opened {
		p.opened = true
		if http1.EqualFold(st.req.Expect, "100-continue") {
			c.mu.Lock()
			if !st.reset && c.err == nil {
				c.headLocked(st, 100, false)
				if !c.inBatch {
					c.flushLocked()
				}
			}
			c.mu.Unlock()
		}
	}
	if p.read > p.limit {
		return 0, http1.ErrBodyTooLarge
	}
	p.mu.Lock()
	if len(p.buf) == 0 && p.err == nil {
		p.waitLocked(c.lim.IdleTimeout)
	}
	if len(p.buf) == 0 {
		err := p.err
		p.mu.Unlock()
		return 0, err
	}
	n := copy(b, p.buf)
	p.buf = p.buf[:copy(p.buf, p.buf[n:])]
	p.mu.Unlock()
	p.read += int64(n)
	c.mu.Lock()
	c.creditLocked(st, n)
	if !c.inBatch {
		c.flushLocked()
	}
	c.mu.Unlock()
	if p.read > p.limit {
		return n, http1.ErrBodyTooLarge
	}
	return n, nil
}

var _ io.Writer = (*stream)(nil)
