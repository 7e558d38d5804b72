package engine

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
}

// ServeStream runs a blocking connection to its end: read, answer every
// complete request, write the answers, until the client leaves, a timeout
// passes, or the connection is to close. It does not close s.
func ServeStream(c *Conn, s Stream) {
	defer c.Release()
	for {
		c.Process(time.Now())
		if c.Pending() {
			if err := c.Flush(s, time.Now()); err != nil {
				return
			}
			if c.Stalled() {
				continue // pipelined requests left waiting by the backlog limit
			}
		}
		if c.Done() {
			return
		}
		if err := s.SetReadDeadline(c.Deadline()); err != nil {
			return
		}
		if c.draining.Load() && c.Drainable() {
			return
		}
		n, err := s.Read(c.ReadSpace())
		c.Received(n, time.Now())
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && c.draining.Load() && !c.Drainable() && time.Now().Before(c.Deadline()) {
				continue // woken by Drain in mid-request: finish it
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
