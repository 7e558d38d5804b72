package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// NetStream is a Stream over a net.Conn on Go's netpoller, for the serial
// and goroutine engines. Its writes give up once the client has accepted
// no byte for WriteTimeout (see h1conn.Sink); a download that keeps moving
// is never cut, however long it takes. Over a *net.TCPConn or a
// *net.UnixConn it writes with writev and sendfile on the socket itself
// (Linux; only TCP is corked); over another conn (TLS)
// it writes through the conn, a response's small buffers in one Write, so
// that they leave in one TLS record.
type NetStream struct {
	net.Conn
	WriteTimeout time.Duration
	tcp          *net.TCPConn    // nil unless Conn is one
	raw          syscall.RawConn // the TCP or unix socket's, nil for another conn
	bufs         net.Buffers
	corked       bool         // see Corker (Linux)
	final        bool         // see Finisher (Linux)
	iov          finalScratch // for writev (Linux)
	w            rawWrite     // the write under way (Linux)
}

// NewNetStream wraps c.
func NewNetStream(c net.Conn, writeTimeout time.Duration) *NetStream {
	s := &NetStream{Conn: c, WriteTimeout: writeTimeout}
	switch tc := c.(type) {
	case *net.TCPConn:
		s.tcp = tc
		s.raw, _ = tc.SyscallConn()
	case *net.UnixConn:
		s.raw, _ = tc.SyscallConn()
	}
	s.initRaw()
	return s
}

// CloseWrite implements h1conn.Stream: a TCP or TLS conn sends its FIN
// (TLS: its close_notify first); another conn does nothing.
func (s *NetStream) CloseWrite() error {
	if cw, ok := s.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// coalesceMax is the most bytes Writev copies into one Write for a conn
// without writev (TLS): above it, each buffer is written on its own.
const coalesceMax = 16 << 10

var coalescePool = sync.Pool{New: func() any { b := make([]byte, 0, coalesceMax); return &b }}

// Writev implements h1conn.Sink.
func (s *NetStream) Writev(bufs [][]byte) (int64, error) {
	if n, ok, err := s.writevRaw(bufs); ok {
		return n, err
	}
	// Portable path: the deadline is renewed after a write that made
	// progress, so a stalled client is dropped within one to two
	// WriteTimeouts of its last progress.
	if s.tcp == nil && len(bufs) > 1 {
		var size int
		for _, b := range bufs {
			size += len(b)
		}
		if size <= coalesceMax {
			p := coalescePool.Get().(*[]byte)
			one := (*p)[:0]
			for _, b := range bufs {
				one = append(one, b...)
			}
			n, err := s.Writev([][]byte{one})
			*p = one[:0]
			coalescePool.Put(p)
			return n, err
		}
	}
	s.bufs = append(s.bufs[:0], bufs...)
	var total int64
	for {
		if err := s.SetWriteDeadline(time.Now().Add(s.WriteTimeout)); err != nil {
			return total, err
		}
		n, err := s.bufs.WriteTo(s.Conn) // consumes s.bufs as it writes
		total += n
		if err != nil && n > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		clear(s.bufs[:cap(s.bufs)])
		return total, err
	}
}

// SendFile implements h1conn.Sink with sendfile(2) where the OS has it.
func (s *NetStream) SendFile(f http1.File, off, n int64) (int64, error) {
	if m, ok, err := s.sendFileRaw(f, off, n); ok {
		return m, err
	}
	var last time.Time
	return CopyFile(s.Conn, f, off, n, func() {
		if now := time.Now(); now.Sub(last) > time.Millisecond {
			last = now
			s.SetWriteDeadline(now.Add(s.WriteTimeout))
		}
	})
}

// reclaimEvery is how often a full engine looks again for a newcomer
// waiting in the backlog and an idle connection to close for it.
const reclaimEvery = 50 * time.Millisecond

// reclaimWait is how long TakeSlot waits for the slot of a connection it
// closed before it closes another (a connection slow to let go).
const reclaimWait = time.Second

// TakeSlot takes a connection slot before an accept. With every slot
// taken, it waits for one; meanwhile, whenever a newcomer waits in the
// kernel's backlog (pending reports it; nil: assume one does), it calls
// reclaim (if not nil) to close the oldest idle connection and make room.
// It returns false if ctx ends first.
func TakeSlot(ctx context.Context, slots chan struct{}, reclaim func(time.Time) bool, pending func() bool) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	var tick, resume <-chan time.Time
	var t *time.Ticker
	if reclaim != nil {
		t = time.NewTicker(reclaimEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case slots <- struct{}{}:
			return true
		case <-tick:
			// A slot that freed as the tick came wins: select chooses
			// at random between ready cases, and reclaiming then would
			// close a connection for nobody.
			select {
			case slots <- struct{}{}:
				return true
			default:
			}
			if (pending == nil || pending()) && reclaim(time.Now()) {
				// One connection closed for this newcomer: its slot
				// frees once its goroutine has let go, which on a busy
				// machine may take longer than a tick. Closing another
				// meanwhile would close one too many.
				tick, resume = nil, time.After(reclaimWait)
			}
		case <-resume:
			tick, resume = t.C, nil
		case <-ctx.Done():
			return false
		}
	}
}

var copyPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// ReadChunk reads up to max bytes of f at off into a pooled buffer, for a
// writer without sendfile (or a File without a descriptor). The caller
// gives the buffer back with PutChunk once written.
func ReadChunk(f http1.File, off, max int64) (*[]byte, []byte, error) {
	bp := copyPool.Get().(*[]byte)
	chunk := (*bp)[:min(max, int64(len(*bp)))]
	m, err := f.ReadAt(chunk, off)
	if m == 0 && err != nil {
		copyPool.Put(bp)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank: the response is cut
		}
		return nil, nil, err
	}
	return bp, chunk[:m], nil
}

// PutChunk gives back a buffer from ReadChunk.
func PutChunk(bp *[]byte) { copyPool.Put(bp) }

// CopyFile writes n bytes of f from off to w with ReadAt and Write, the
// portable fallback for sendfile. progress, if not nil, runs before each write.
func CopyFile(w io.Writer, f http1.File, off, n int64, progress func()) (int64, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	var written int64
	for written < n {
		chunk := buf
		if rest := n - written; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		m, err := f.ReadAt(chunk, off+written)
		if m == 0 && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return written, err
		}
		if progress != nil {
			progress()
		}
		m, err = w.Write(chunk[:m])
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// AcceptLoop accepts connections from ln until ctx is done, handing each
// to handle. With slots, it takes a slot before each accept, so that at
// MaxConns clients wait in the kernel's backlog (where another process
// sharing the listener may take them); handle must release the slot.
// While every slot is taken and a newcomer waits, it calls reclaim (if not
// nil) to close an idle connection and make room (see TakeSlot).
// Temporary failures (too many open files) back off rather than spin. It
// closes ln when ctx is done and returns nil then.
func AcceptLoop(ctx context.Context, ln net.Listener, cfg *Config, slots chan struct{}, reclaim func(time.Time) bool, handle func(net.Conn)) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var delay time.Duration
	for {
		if slots != nil && !TakeSlot(ctx, slots, reclaim, func() bool { return listenerPending(ln) }) {
			return nil
		}
		c, err := ln.Accept()
		if err != nil {
			if slots != nil {
				<-slots
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			cfg.ErrorLog.Warn("accept failed; retrying", "err", err, "delay", delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		delay = 0
		handle(c)
	}
}

// RemoteAddrPort is c's peer address, or the zero value when the system
// did not report one: RemoteAddr may be nil (golang/go#23022), and the
// connection is still served.
func RemoteAddrPort(c net.Conn) netip.AddrPort {
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr:
		if a != nil {
			return a.AddrPort()
		}
	case nil:
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return ap
		}
	}
	return netip.AddrPort{}
}
