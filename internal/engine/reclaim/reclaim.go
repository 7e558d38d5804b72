// Package reclaim keeps the idle connections of the blocking engines
// (thread, goroutine) so that, at MaxConns, the oldest can be closed to
// make room for a newcomer, as nginx does when it runs short of
// connections and as the event loops do on their own (evloop).
//
// A connection is idle while its goroutine waits for input with nothing
// in hand: answered and between requests, or not yet sent anything. The
// connection's goroutine marks it (Idle) just before it blocks and unmarks
// it (Busy) once the wait ends; the accept loop calls Reclaim when every
// slot is taken and a newcomer waits.
package reclaim

import (
	"sync"
	"time"
)

// Grace is how long a connection that has sent nothing yet is left alone:
// TCP_DEFER_ACCEPT (where set) has already held a silent client for
// seconds before accept.
const Grace = time.Second

// scan bounds the entries Reclaim looks at.
const scan = 64

// Set is the idle connections of one engine, oldest first. Safe for
// concurrent use.
type Set struct {
	mu         sync.Mutex
	head, tail *Entry
}

// Entry is one connection's place in a Set.
type Entry struct {
	kill       func()
	since      int64
	fresh      bool
	prev, next *Entry
	listed     bool
}

// NewEntry returns the entry of a connection that kill closes (it must
// make the connection's pending read fail; it runs under the Set's lock,
// so it must not block).
func NewEntry(kill func()) *Entry { return &Entry{kill: kill} }

// Idle marks e idle from now. fresh: the connection has sent nothing
// yet. The connection's own goroutine calls it before it waits for input,
// and must call Busy before it closes its socket.
func (s *Set) Idle(e *Entry, fresh bool, now time.Time) {
	s.mu.Lock()
	if !e.listed {
		e.since, e.fresh, e.listed = now.UnixNano(), fresh, true
		e.prev, e.next = s.tail, nil
		if s.tail != nil {
			s.tail.next = e
		} else {
			s.head = e
		}
		s.tail = e
	}
	s.mu.Unlock()
}

// Busy unmarks e.
func (s *Set) Busy(e *Entry) {
	s.mu.Lock()
	s.unlink(e)
	s.mu.Unlock()
}

func (s *Set) unlink(e *Entry) {
	if !e.listed {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next, e.listed = nil, nil, false
}

// Reclaim kills the oldest idle connection (past Grace if it has sent
// nothing) and reports whether there was one. Its goroutine then sees its
// read fail, closes it and gives back its slot. A client whose kept-alive
// connection closes between requests may retry (RFC 9112 §9.3.1).
func (s *Set) Reclaim(now time.Time) bool {
	t := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.head
	for i := 0; e != nil && i < scan; i++ {
		if !e.fresh || t-e.since >= int64(Grace) {
			s.unlink(e)
			e.kill() // under the lock: the socket cannot close meanwhile (see Idle)
			return true
		}
		e = e.next
	}
	return false
}
