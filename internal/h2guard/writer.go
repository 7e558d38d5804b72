package h2guard

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

// Go's HTTP/2 server flushes its write buffer whenever its queue of frames
// runs dry, and with one goroutine per stream that happens after almost
// every response: each flush is one TLS record and one write(2). The
// writer below gathers those flushes: a Write is copied into a buffer and a
// flush goroutine is started that first yields (runtime.Gosched), so that
// the goroutines that are runnable now (the other streams' handlers, Go's
// serve loop, its frame writers) add their frames first; then it writes
// everything at once. A lone request is not delayed by a timer: the flush
// runs as soon as nothing else is runnable.

const (
	// flushSize is what makes a Write go out at once, in the writing
	// goroutine: a TLS record holds at most 16 KiB.
	flushSize = 16 << 10
	// closeGrace bounds how long Close waits to send what is buffered
	// (and for a flush under way) to a client that does not read.
	closeGrace = time.Second
)

// bufPool holds the buffers of writers with something pending, so that an
// idle connection holds none.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 2*flushSize)
	return &b
}}

// writer is the write side of a guarded connection. It is safe for
// concurrent use: the bytes of one Write go out together, not mixed with
// another's, and those of Writes made one after another (Go's server makes
// one at a time) go out in that order.
//
// Two locks: out serializes writes to the network (flushes, Writes that go
// out at once, Close) and is held across them; mu guards the buffer and
// the state and is never held across I/O (only across setting the
// network's write deadline). out is taken before mu.
type writer struct {
	c       net.Conn      // the network (a *tls.Conn, or TCP for h2c)
	timeout time.Duration // Go's WriteByteTimeout, 0 for none
	flushFn func()        // w.flush, made once: go w.flushFn() allocates nothing

	out sync.Mutex

	mu       sync.Mutex
	buf      *[]byte   // pending bytes, nil when none
	flushing bool      // a flush goroutine will take buf
	deadline time.Time // Go's write deadline
	err      error     // the first write error: later Writes return it
	closed   bool
	closeBy  time.Time // set by Close: no write may go past it
	netDL    time.Time // the network's write deadline, as send set it
}

func newWriter(c net.Conn, timeout time.Duration) *writer {
	w := &writer{c: c, timeout: timeout}
	w.flushFn = w.flush
	return w
}

// Write copies p into the buffer and makes sure a flush will follow. Once
// the buffer would hold flushSize bytes, they go out now (see writeNow).
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.err != nil || w.closed {
		err := w.err
		w.mu.Unlock()
		if err == nil {
			err = net.ErrClosed
		}
		return 0, err
	}
	if w.buf == nil && len(p) < flushSize {
		w.buf = bufPool.Get().(*[]byte)
	}
	if w.buf != nil && len(*w.buf)+len(p) < flushSize {
		*w.buf = append(*w.buf, p...)
		if !w.flushing {
			w.flushing = true
			go w.flushFn()
		}
		w.mu.Unlock()
		return len(p), nil
	}
	w.mu.Unlock()
	return w.writeNow(p)
}

// writeNow writes what is pending and p, in the calling goroutine, in
// whole TLS records: what is pending is topped up to flushSize from p, the
// rest of p goes out straight from p but for its last partial record,
// which is kept for the flush. (Go's frames are 9 bytes more than its
// 16 KiB DATA payloads: written as they come, each would take a TLS record
// of its own for its last 9 bytes.)
func (w *writer) writeNow(p []byte) (int, error) {
	n := len(p)
	w.out.Lock()
	defer w.out.Unlock()
	w.mu.Lock()
	bp := w.buf
	w.buf = nil
	err := w.err
	w.mu.Unlock()
	if bp != nil {
		if err == nil {
			k := min(len(p), max(0, flushSize-len(*bp)))
			*bp = append(*bp, p[:k]...)
			p = p[k:]
			err = w.send(*bp)
		}
		putBuf(bp)
	}
	if err != nil {
		return 0, err
	}
	if m := len(p) / flushSize * flushSize; m > 0 {
		if err := w.send(p[:m]); err != nil {
			return 0, err
		}
		p = p[m:]
	}
	if len(p) > 0 {
		w.keep(p)
	}
	return n, nil
}

// keep buffers p, the end of a Write, ahead of what other Writes may have
// buffered meanwhile, and makes sure a flush will follow; out is held.
func (w *writer) keep(p []byte) {
	bp := bufPool.Get().(*[]byte)
	*bp = append(*bp, p...)
	w.mu.Lock()
	if w.buf != nil {
		*bp = append(*bp, *w.buf...)
		putBuf(w.buf)
	}
	w.buf = bp
	if !w.flushing {
		w.flushing = true
		go w.flushFn()
	}
	w.mu.Unlock()
}

func putBuf(bp *[]byte) {
	*bp = (*bp)[:0]
	bufPool.Put(bp)
}

// flush runs in a goroutine of its own: it lets the goroutines that are
// runnable now add to the buffer, then writes it out.
func (w *writer) flush() {
	runtime.Gosched()
	w.out.Lock()
	w.drain(true)
	w.out.Unlock()
}

// drain sends what is buffered (nothing after an error) and gives the
// buffer back; out is held. done says the pending flush is this one.
func (w *writer) drain(done bool) {
	w.mu.Lock()
	bp := w.buf
	w.buf = nil
	if done {
		w.flushing = false
	}
	err := w.err
	w.mu.Unlock()
	if bp != nil {
		if err == nil {
			w.send(*bp)
		}
		putBuf(bp)
	}
}

// send writes b to the network; out is held. Each write must make progress
// before the deadline Go set, or else before WriteByteTimeout from now:
// the client has taken nothing for that long. An error is kept for later
// Writes and closes the network connection, so that Go's server, which may
// have nothing more to write, sees it on its next read and ends the
// connection.
func (w *writer) send(b []byte) error {
	for len(b) > 0 {
		w.mu.Lock()
		d, sliding := w.deadline, w.deadline.IsZero() && w.closeBy.IsZero()
		if d.IsZero() && w.timeout > 0 {
			d = time.Now().Add(w.timeout)
		}
		if !w.closeBy.IsZero() && (d.IsZero() || w.closeBy.Before(d)) {
			d = w.closeBy
		}
		// Under mu: a deadline Close or Go sets meanwhile comes after.
		w.c.SetWriteDeadline(d)
		w.netDL = d
		w.mu.Unlock()
		n, err := w.c.Write(b)
		b = b[n:]
		if err == nil {
			break
		}
		// A plain TCP connection may go on after a timeout if the client
		// took something (a *tls.Conn may not).
		if n > 0 && sliding && errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
		w.c.Close()
		return err
	}
	return nil
}

// SetWriteDeadline records t for the writes to come; it is not passed to
// the network connection (whose deadline send sets for each write) unless
// it is already past, to cut short a write under way.
func (w *writer) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = t
	if !t.IsZero() && !time.Now().Before(t) {
		return w.c.SetWriteDeadline(t)
	}
	return nil
}

// Close sends what is buffered, unless a write failed, then closes the
// network connection. It waits at most closeGrace for a client that does
// not read, a flush under way included.
func (w *writer) Close() error {
	by := time.Now().Add(closeGrace)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.c.Close()
	}
	w.closed, w.closeBy = true, by
	if w.netDL.IsZero() || by.Before(w.netDL) {
		w.c.SetWriteDeadline(by) // bounds a flush under way
	}
	w.mu.Unlock()
	w.out.Lock()
	w.drain(false)
	w.out.Unlock()
	return w.c.Close()
}
