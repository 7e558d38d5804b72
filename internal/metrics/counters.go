// Package metrics counts what weft serves, for the admin listener's
// Prometheus /metrics: requests by protocol, method and status class,
// their durations and body bytes, connections, and sendfile bytes.
//
// Counting costs the hot path no allocation and no lock: the counters are
// split in shards, each on cache lines of its own, and each event loop
// counts on its own shard (Counters.Shard with the loop's index), so loops
// never write the same cache line; connections of engines without loops
// (a goroutine or a thread per connection) are dealt shards in turn. A
// scrape sums the shards (Counters.Snapshot). Every counter is an atomic,
// so a scrape reads them while they change.
package metrics

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Protocols, the proto label: HTTP/1.0, HTTP/1.1, HTTP/2, HTTP/3.
var Protos = [NProto]string{"1.0", "1.1", "2", "3"}

// Methods, the method label: the methods weft knows, then "other".
var Methods = [NMethod]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "other"}

// Classes, the code label: status classes.
var Classes = [NClass]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Buckets are the upper bounds of the request duration histogram.
var Buckets = [NBucket]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Sizes of the label sets.
const (
	NProto  = 4
	NMethod = 10
	NClass  = 5
	NBucket = 16
)

const cacheLine = 128 // two lines: adjacent-line prefetch pairs them

// Shard is one set of counters, written by one event loop (or by the
// connections dealt it). Its methods implement h1conn.Meter.
type Shard struct {
	_ [cacheLine]byte

	requests [NProto][NMethod][NClass]atomic.Uint64
	body     [NProto]atomic.Uint64      // response body bytes, as logged
	buckets  [NBucket + 1]atomic.Uint64 // durations: per bucket, not cumulative; the last is +Inf
	durSum   atomic.Int64               // nanoseconds

	opened   atomic.Uint64
	closed   atomic.Uint64
	idleIn   atomic.Uint64
	idleOut  atomic.Uint64
	sendfile atomic.Uint64

	_ [cacheLine]byte
}

// Log counts an answered request. It does not allocate.
func (s *Shard) Log(rec *http1.Record) {
	p := protoOf(rec.Major, rec.Minor)
	class := rec.Status/100 - 1
	if class < 0 || class >= NClass {
		class = NClass - 1 // not sent by weft; counted as a server error
	}
	s.requests[p][methodOf(rec.Method)][class].Add(1)
	if rec.Bytes > 0 {
		s.body[p].Add(uint64(rec.Bytes))
	}
	b := 0
	for b < NBucket && rec.Duration > Buckets[b] {
		b++
	}
	s.buckets[b].Add(1)
	s.durSum.Add(int64(rec.Duration))
}

// Opened counts an accepted connection.
func (s *Shard) Opened() { s.opened.Add(1) }

// Closed counts a released connection.
func (s *Shard) Closed() { s.closed.Add(1) }

// Idle counts a connection that began (true) or stopped (false) waiting
// between requests.
func (s *Shard) Idle(idle bool) {
	if idle {
		s.idleIn.Add(1)
	} else {
		s.idleOut.Add(1)
	}
}

// SentFile counts bytes sent from a file.
func (s *Shard) SentFile(n int64) { s.sendfile.Add(uint64(n)) }

func protoOf(major, minor int) int {
	switch {
	case major == 2:
		return 2
	case major == 3:
		return 3
	case major == 1 && minor == 0:
		return 0
	}
	return 1 // HTTP/1.1, and requests too malformed to tell
}

func methodOf(name []byte) int {
	switch m := http1.MethodOf(name); m {
	case http1.MethodOther:
		return NMethod - 1
	default:
		return int(m) - 1
	}
}

// Counters are the shards of one process.
type Counters struct {
	shards []Shard
	_      [cacheLine]byte
	next   atomic.Uint32 // the shard the next loopless connection gets
	_      [cacheLine]byte
}

// New returns counters with enough shards for one per event loop of an
// engine on this machine (and more, to spread connections of engines
// without loops).
func New() *Counters {
	n := 2 * max(runtime.GOMAXPROCS(0), runtime.NumCPU())
	return &Counters{shards: make([]Shard, n)}
}

// Shard returns the counters of event loop loop (0, 1, …), or, for loop
// < 0, the next shard in turn, for a connection of an engine without
// loops.
func (c *Counters) Shard(loop int) *Shard {
	if loop < 0 {
		loop = int(c.next.Add(1))
	}
	return &c.shards[loop%len(c.shards)]
}

// Snapshot is the counters summed over shards.
type Snapshot struct {
	Requests [NProto][NMethod][NClass]uint64
	Body     [NProto]uint64
	Buckets  [NBucket + 1]uint64 // per bucket, not cumulative
	DurSum   time.Duration
	Opened   uint64 // accepted connections
	Closed   uint64
	Idle     int64 // connections waiting between requests now
	Sendfile uint64
}

// Snapshot sums the shards. Counts of one request may be read half
// updated (its status counted, its bytes not yet): the next scrape has it.
func (c *Counters) Snapshot() *Snapshot {
	var sn Snapshot
	for i := range c.shards {
		s := &c.shards[i]
		for p := range s.requests {
			for m := range s.requests[p] {
				for k := range s.requests[p][m] {
					sn.Requests[p][m][k] += s.requests[p][m][k].Load()
				}
			}
			sn.Body[p] += s.body[p].Load()
		}
		for b := range s.buckets {
			sn.Buckets[b] += s.buckets[b].Load()
		}
		sn.DurSum += time.Duration(s.durSum.Load())
		// Closed before opened, idle-out before idle-in: a connection
		// counted out is then always counted in, and gauges never dip
		// below zero.
		closed := s.closed.Load()
		out := s.idleOut.Load()
		sn.Opened += s.opened.Load()
		sn.Closed += closed
		sn.Idle += int64(s.idleIn.Load() - out)
		sn.Sendfile += s.sendfile.Load()
	}
	return &sn
}

// Open is the number of connections open now.
func (sn *Snapshot) Open() int64 { return int64(sn.Opened - sn.Closed) }
