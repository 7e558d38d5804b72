// Package reclaim keeps the idle connections of the blocking engines
// (thread, goroutine) so that, at MaxConns, the oldest can be closed to
// make room for a newcomer, as nginx does when it runs short of
// connections and as the event loops do on their own (evloop).
//
// A connection is idle while its goroutine waits for input with nothing
// in hand: answered and between requests, or not yet sent anything. The
// connection's goroutine marks it (Idle) just before it blocks and unmarks
// it (Busy) once the wait ends: two atomic operations on the connection's
// own entry, no lock shared with other connections. The accept loop calls
// Reclaim when every slot is taken; only that rare call scans the set.
package reclaim

import (
	"sync"
	"sync/atomic"
	"time"
)

// Grace is how long a connection that has sent nothing yet is left alone:
// TCP_DEFER_ACCEPT (where set) has already held a silent client for
// seconds before accept.
const Grace = time.Second

// Set is the open connections of one engine. Safe for concurrent use.
type Set struct {
	mu      sync.Mutex
	entries map[*Entry]struct{}
}

// Entry is one connection's place in a Set.
type Entry struct {
	kill func()
	// since is when the connection became idle (UnixNano); 0: busy;
	// claimed: Reclaim took it and closed it. The sign bit marks a
	// connection that had sent nothing yet (fresh).
	since atomic.Int64
}

const claimed = -1

// NewEntry returns the entry of a connection that kill closes (it must
// make the connection's pending read fail; it runs under the Set's lock,
// so it must not block).
func NewEntry(kill func()) *Entry { return &Entry{kill: kill} }

// Add puts e in the set, when its connection opens.
func (s *Set) Add(e *Entry) {
	s.mu.Lock()
	if s.entries == nil {
		s.entries = make(map[*Entry]struct{})
	}
	s.entries[e] = struct{}{}
	s.mu.Unlock()
}

// Remove takes e out of the set. The connection's goroutine calls it
// before it closes its socket: Reclaim kills under the same lock, so it
// never closes a descriptor that has been closed and reused.
func (s *Set) Remove(e *Entry) {
	s.mu.Lock()
	delete(s.entries, e)
	s.mu.Unlock()
}

// Idle marks e idle from now. fresh: the connection has sent nothing yet.
// The connection's own goroutine calls it before it waits for input.
func (s *Set) Idle(e *Entry, fresh bool, now time.Time) {
	t := max(now.UnixNano(), 1)
	if fresh {
		t = -t
	}
	e.since.CompareAndSwap(0, t) // not over claimed
}

// Busy unmarks e once the wait for input has ended.
func (s *Set) Busy(e *Entry) {
	if v := e.since.Load(); v != 0 && v != claimed {
		e.since.CompareAndSwap(v, 0)
	}
}

// Reclaim kills the connection idle the longest (a fresh one only past
// Grace) and reports whether there was one. Its goroutine then sees its
// read fail, closes it and gives back its slot. A client whose kept-alive
// connection closes between requests may retry (RFC 9112 §9.3.1).
func (s *Set) Reclaim(now time.Time) bool {
	t := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var victim *Entry
		var oldest, seen int64
		for e := range s.entries {
			v := e.since.Load()
			if v == 0 || v == claimed {
				continue
			}
			at := v
			if v < 0 {
				at = -v
				if t-at < int64(Grace) {
					continue
				}
			}
			if victim == nil || at < oldest {
				victim, oldest, seen = e, at, v
			}
		}
		if victim == nil {
			return false
		}
		// Its goroutine may have woken meanwhile: claim it only if it is
		// still idle since then, else look again.
		if victim.since.CompareAndSwap(seen, claimed) {
			victim.kill()
			return true
		}
	}
}
