package evloop

import (
	"sync/atomic"

	"github.com/weft-server/weft/internal/engine/reclaim"
)

// IdleNode is a connection's place in an IdleList; a connection type
// embeds it and hands it out through Idler.
type IdleNode[C any] struct {
	since      int64 // when it joined the list (UnixNano)
	prev, next *C
	listed     bool
	fresh      bool // had sent nothing when listed
}

// Idler is a pointer to a connection that an IdleList can hold.
type Idler[C any] interface {
	*C
	IdleNode() *IdleNode[C]
	// Fresh reports whether the connection has sent no request yet
	// (h1conn.Conn.Fresh).
	Fresh() bool
}

// IdleList is an event loop's open connections between requests, in the
// order they became idle: the ones a loop may close at MaxConns (see
// Reclaimable). It is intrusive (no allocation per push) and only its
// loop touches it, except Answered.
type IdleList[C any, P Idler[C]] struct {
	head, tail *C
	n          int32
	answered   atomic.Int32 // n, for other loops
}

// Push appends c, idle since now (UnixNano).
func (q *IdleList[C, P]) Push(c P, now int64) {
	nd := c.IdleNode()
	nd.since, nd.listed = now, true
	nd.fresh = c.Fresh()
	if !nd.fresh {
		q.n++
		q.answered.Store(q.n)
	}
	nd.prev, nd.next = q.tail, nil
	if q.tail != nil {
		P(q.tail).IdleNode().next = (*C)(c)
	} else {
		q.head = c
	}
	q.tail = c
}

// Remove takes c out of the list if it is there.
func (q *IdleList[C, P]) Remove(c P) {
	nd := c.IdleNode()
	if !nd.listed {
		return
	}
	if nd.prev != nil {
		P(nd.prev).IdleNode().next = nd.next
	} else {
		q.head = nd.next
	}
	if nd.next != nil {
		P(nd.next).IdleNode().prev = nd.prev
	} else {
		q.tail = nd.prev
	}
	nd.prev, nd.next, nd.listed = nil, nil, false
	if !nd.fresh {
		q.n--
		q.answered.Store(q.n)
	}
}

// Listed reports whether c is in the list.
func (q *IdleList[C, P]) Listed(c P) bool { return c.IdleNode().listed }

// Answered is how many connections in the list have been answered at
// least once. Safe for any goroutine.
func (q *IdleList[C, P]) Answered() int32 { return q.answered.Load() }

// reclaimScan bounds the idle connections Reclaimable looks at.
const reclaimScan = 64

// Reclaimable returns the connection to close to make room for a
// newcomer at MaxConns, as nginx does when it runs short of connections:
// the oldest idle one that has been answered and waits between requests,
// or that has sent nothing for reclaim.Grace since it was accepted, and
// for which busy (a last look for input that has just arrived) reports
// false. It returns nil if there is none among the oldest few. A client
// whose kept-alive connection closes between requests may retry (RFC
// 9112 §9.3.1).
func (q *IdleList[C, P]) Reclaimable(now int64, busy func(P) bool) P {
	c := P(q.head)
	for i := 0; c != nil && i < reclaimScan; i++ {
		nd := c.IdleNode()
		next := P(nd.next)
		if (c.Fresh() && now-nd.since < int64(reclaim.Grace)) || busy(c) {
			c = next
			continue
		}
		return c
	}
	return nil
}
