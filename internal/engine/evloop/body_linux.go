package evloop

import (
	"errors"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

// A request whose handler takes its body (an upload) is served off the
// loop: the loop lets go of the connection's socket (removes it from its
// poller), and a goroutine of its own runs the blocking engines' path for
// that one request (h1conn.Conn.ServeBody) over the socket as a blocking
// Stream (BodyStream). The loop meanwhile serves its other connections;
// however slowly the body trickles in, only that goroutine waits for it.
// When the handler returns, the connection goes back to its loop (see
// Job.Run and Loop.resume), which takes the socket into its poller again,
// queues the answer and goes on with the next request, or closes.

// BodyStream is a loop connection's non-blocking socket as a blocking
// h1conn.Stream: a read or write that would block waits in poll(2) on the
// descriptor alone. Only a body's goroutine uses it, while the loop has
// let go of the socket. The io_uring engine uses it too, with the input
// its ring received before it let go (held).
type BodyStream struct {
	fd           int
	deadline     time.Time
	writeTimeout time.Duration
	iov          []unix.Iovec
	held         []byte // input received before the loop let go: Read returns it first
}

var _ h1conn.Stream = (*BodyStream)(nil)

// Reset makes s the stream of socket fd, whose writes fail after
// writeTimeout without progress and whose reads return held first; s's
// buffers are kept.
func (s *BodyStream) Reset(fd int, writeTimeout time.Duration, held []byte) {
	*s = BodyStream{fd: fd, writeTimeout: writeTimeout, iov: s.iov[:0], held: held}
}

// Held returns what Read has not yet returned of the held input (part
// of the next request, say, once the handler has read its body).
func (s *BodyStream) Held() []byte { return s.held }

// errNoSendFile: a body's stream only reads (and writes 100 Continue).
var errNoSendFile = errors.New("weft: no file output while a request body is read")

func (s *BodyStream) SetReadDeadline(t time.Time) error {
	s.deadline = t
	return nil
}

// Read reads what has arrived, waiting for input until the deadline
// (then os.ErrDeadlineExceeded); io.EOF once the client has shut down its
// side (or the loop shut the socket down, see Loop.exit).
func (s *BodyStream) Read(p []byte) (int, error) {
	if len(s.held) > 0 {
		n := copy(p, s.held)
		s.held = s.held[n:]
		return n, nil
	}
	for {
		n, err := netpoll.ReadNB(s.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return 0, err
		}
		left := time.Until(s.deadline)
		if left <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		if err := netpoll.WaitFD(s.fd, false, left); err != nil {
			return 0, err
		}
	}
}

// Writev writes all of bufs, waiting for room in the socket; a client
// that accepts no byte for the write timeout fails it.
func (s *BodyStream) Writev(bufs [][]byte) (int64, error) {
	var total int64
	until := time.Now().Add(s.writeTimeout)
	for {
		n, rest, err := netpoll.WritevAllNB(s.fd, bufs, &s.iov, false)
		total += n
		if err != unix.EAGAIN {
			return total, err
		}
		now := time.Now()
		if n > 0 {
			until = now.Add(s.writeTimeout)
		} else if !now.Before(until) {
			return total, os.ErrDeadlineExceeded
		}
		bufs = rest
		if err := netpoll.WaitFD(s.fd, true, until.Sub(now)); err != nil {
			return total, err
		}
	}
}

func (s *BodyStream) SendFile(http1.File, int64, int64) (int64, error) { return 0, errNoSendFile }

func (s *BodyStream) CloseWrite() error { return unix.Shutdown(s.fd, unix.SHUT_WR) }
