package h1conn

import (
	"errors"
	"os"
	"time"
)

// Stream is a connection as the blocking engines (serial, thread,
// goroutine) see it: reads and writes block until done or until a deadline.
type Stream interface {
	Sink
	Read(p []byte) (int, error)
	SetReadDeadline(t time.Time) error
	CloseWrite() error // shut down the sending side: FIN after what was sent
}

// NoWaitReader is a Stream that can read what has already arrived without
// waiting, whatever its read deadline: a draining connection reads it
// before closing, so that a request already in the socket's buffer is
// answered, not dropped.
type NoWaitReader interface {
	ReadNoWait(p []byte) (int, error) // (0, nil) when nothing has arrived
}

// arrived reads, without waiting, input that has arrived on a connection
// about to close for a drain. It reports whether there was any.
func arrived(c *Conn, s Stream) bool {
	nw, ok := s.(NoWaitReader)
	if !ok {
		return false
	}
	n, err := nw.ReadNoWait(c.ReadSpace())
	c.Received(n, time.Now())
	return err == nil && n > 0
}

// ServeStream runs a blocking connection to its end: read, answer every
// complete request, write the answers, until the client leaves, a timeout
// passes, or the connection is to close. It does not close s; when s is a
// Finisher, the caller closes it right after ServeStream returns.
func ServeStream(c *Conn, s Stream) {
	defer c.Release()
	c.stream = s
	for {
		c.Process(time.Now())
		if c.Pending() {
			err := c.Flush(s, time.Now())
			c.lastActive = time.Now().UnixNano() // a blocking flush may have taken long
			if err != nil {
				return
			}
			if c.Stalled() {
				continue // pipelined requests left waiting by the backlog limit
			}
		}
		if c.Done() {
			if c.Lingers() {
				linger(c, s)
			}
			return
		}
		if err := s.SetReadDeadline(c.Deadline()); err != nil {
			return
		}
		if c.draining.Load() && c.Drainable() {
			if arrived(c, s) {
				continue // a request came in as the drain began: answer it
			}
			return
		}
		n, err := s.Read(c.ReadSpace())
		c.Received(n, time.Now())
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && c.draining.Load() {
				if !c.Drainable() && time.Now().Before(c.Deadline()) {
					continue // woken by Drain in mid-request: finish it
				}
				if c.Drainable() && arrived(c, s) {
					continue // a request came in as the drain began: answer it
				}
			}
			if n > 0 || c.r < c.w {
				// The client closed its side: answer what is complete.
				c.Process(time.Now())
				if c.Pending() {
					c.Flush(s, time.Now())
				}
			}
			return
		}
	}
}

// linger performs c's lingering close on s (see Conn.Lingers): it ends
// when the client closes, at the deadline, or at a graceful shutdown.
func linger(c *Conn, s Stream) {
	if s.CloseWrite() != nil {
		return
	}
	c.StartLinger(time.Now())
	if s.SetReadDeadline(c.Deadline()) != nil {
		return
	}
	// Drain sets the flag, then interrupts Read; the deadline is checked
	// here too, as a per-read timeout (SO_RCVTIMEO) never ends a
	// stream of input.
	for !c.draining.Load() && time.Now().Before(c.Deadline()) {
		n, err := s.Read(c.ReadSpace())
		c.Received(n, time.Now())
		if err != nil {
			return
		}
	}
}
