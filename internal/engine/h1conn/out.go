package h1conn

import (
	"io"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Sink is where a Conn's queued output goes. A blocking sink writes
// everything or fails; a non-blocking one may write less and return
// ErrWouldBlock. A blocking sink applies the write timeout as the Conn
// does (see Conn.Deadline): it fails once the client has accepted no byte
// for the timeout, and every byte accepted restarts that clock, however
// long the whole write takes.
type Sink interface {
	// Writev writes bufs in order and returns how many bytes it wrote.
	Writev(bufs [][]byte) (int64, error)
	// SendFile writes n bytes of f from offset off.
	SendFile(f http1.File, off, n int64) (int64, error)
}

// Corker is a Sink that can hold back partial segments (TCP_CORK) while
// a large file body goes out, as nginx's tcp_nopush does: the receiver
// then handles far fewer packets per byte. Conn.Flush corks when at least
// CorkAbove bytes of file segments are queued and uncorks once all is
// sent (or, with SetHeadCork, corks only a Flush that starts with a head
// and uncorks after every Flush). Cork must turn TCP_NODELAY off while corked: it marks frames for
// pushing and defeats the cork.
type Corker interface {
	Cork()
	Uncork()
}

// Finisher is a Sink that can hold back the tail of a connection's last
// output (sendmsg with MSG_MORE) so that it leaves in one segment with the
// FIN that closing the connection adds, as nginx's corked close does: one
// packet fewer per connection-per-request. Conn.Flush tells it whether what
// it sends is the connection's last output; the engine must then close or
// shut down the socket right after that Flush.
type Finisher interface {
	SetFinal(final bool)
}

// SendQueuer is a Sink that can tell how many bytes its socket holds that
// the client has not acknowledged (-1: unknown). A Conn waiting on a full
// socket uses it at its write deadline: a queue that shrank since the
// socket filled means the client is still taking bytes (see Expired).
type SendQueuer interface {
	SendQueue() int
}

// CorkAbove is the queued file body size from which Flush corks.
const CorkAbove = 512 << 10

type itemKind uint8

const (
	itemOwned  itemKind = iota // out.buf[start:end]
	itemShared                 // data, shared and immutable
	itemFile                   // file segment
	itemClose                  // release closer once all before it is sent
	itemStream                 // a streamed body (see pipe.go)
)

type outItem struct {
	kind       itemKind
	start, end int // itemOwned
	data       []byte
	file       http1.File
	off, n     int64
	closer     io.Closer
	stream     *streamBody
}

// copyLimit is the largest shared body copied next to its head, so that a
// small response leaves in one contiguous write.
const copyLimit = 16 << 10

// outQueue holds the bytes and body sources of responses not yet sent, in
// order. Owned bytes (heads, small bodies) accumulate in buf so that
// pipelined responses leave in one write.
type outQueue struct {
	buf    []byte
	items  []outItem
	head   int   // first unsent item
	queued int64 // bytes not yet sent
	files  int64 // of which in file segments
	// sent counts every byte ever sent, for Flush to see progress (it
	// is never reset: only its changes matter).
	sent int64
	// framing counts the bytes of sent that framed a chunked streamed
	// body (chunk size lines), for records to tell the body's own.
	framing int64
	streams int // streamed bodies queued and not yet sent
	iov     [][]byte
}

func (q *outQueue) pending() bool { return q.head < len(q.items) }

// bytesFirst reports whether the next thing to send is bytes (a head, a
// multipart boundary), not a file segment already under way.
func (q *outQueue) bytesFirst() bool {
	return q.head < len(q.items) && q.items[q.head].kind != itemFile
}

// appendOwned records that buf grew from start to its current length.
func (q *outQueue) appendOwned(start int) {
	end := len(q.buf)
	if end == start {
		return
	}
	q.queued += int64(end - start)
	if n := len(q.items); n > q.head && q.items[n-1].kind == itemOwned && q.items[n-1].end == start {
		q.items[n-1].end = end
		return
	}
	q.items = append(q.items, outItem{kind: itemOwned, start: start, end: end})
}

func (q *outQueue) addBytes(b []byte) {
	if len(b) == 0 {
		return
	}
	if len(b) <= copyLimit {
		start := len(q.buf)
		q.buf = append(q.buf, b...)
		q.appendOwned(start)
		return
	}
	q.queued += int64(len(b))
	q.items = append(q.items, outItem{kind: itemShared, data: b})
}

func (q *outQueue) addFile(f http1.File, off, n int64) {
	if n <= 0 {
		return
	}
	q.queued += n
	q.files += n
	q.items = append(q.items, outItem{kind: itemFile, file: f, off: off, n: n})
}

func (q *outQueue) addCloser(c io.Closer) {
	if c == nil {
		return
	}
	if !q.pending() {
		c.Close()
		return
	}
	q.items = append(q.items, outItem{kind: itemClose, closer: c})
}

// flush sends queued output to s until the queue is empty or s would block
// (or, with a Notifier, a streamed body's producer has nothing ready;
// without one, it waits for it up to wait). It reports how many bytes of
// files went out with SendFile.
func (q *outQueue) flush(s Sink, nt Notifier, wait time.Duration) (fileBytes int64, err error) {
	for q.head < len(q.items) {
		it := &q.items[q.head]
		switch it.kind {
		case itemStream:
			if err := q.flushStream(s, it, nt, wait); err != nil {
				return fileBytes, err
			}
			*it = outItem{}
			q.head++
			continue
		case itemClose:
			it.closer.Close()
			*it = outItem{}
			q.head++
			continue
		case itemFile:
			n, err := s.SendFile(it.file, it.off, it.n)
			fileBytes += n
			q.sent += n
			it.off += n
			it.n -= n
			q.queued -= n
			q.files -= n
			if it.n == 0 {
				*it = outItem{}
				q.head++
			}
			if err != nil {
				return fileBytes, err
			}
			continue
		}
		// Gather the run of byte items into one writev.
		q.iov = q.iov[:0]
		for i := q.head; i < len(q.items) && len(q.iov) < 64; i++ {
			b := q.bytesOf(&q.items[i])
			if b == nil {
				break
			}
			q.iov = append(q.iov, b)
		}
		n, err := s.Writev(q.iov)
		q.consume(n)
		if err != nil {
			return fileBytes, err
		}
	}
	q.reset()
	return fileBytes, nil
}

func (q *outQueue) bytesOf(it *outItem) []byte {
	switch it.kind {
	case itemOwned:
		return q.buf[it.start:it.end]
	case itemShared:
		return it.data
	}
	return nil
}

// consume drops n sent bytes from the front of the queue.
func (q *outQueue) consume(n int64) {
	q.queued -= n
	q.sent += n
	for n > 0 {
		it := &q.items[q.head]
		size := int64(len(q.bytesOf(it)))
		if n < size {
			if it.kind == itemOwned {
				it.start += int(n)
			} else {
				it.data = it.data[n:]
			}
			return
		}
		n -= size
		*it = outItem{}
		q.head++
	}
}

func (q *outQueue) reset() {
	for i := q.head; i < len(q.items); i++ {
		if c := q.items[i].closer; c != nil {
			c.Close()
		}
		if sb := q.items[i].stream; sb != nil {
			sb.abandon()
		}
		q.items[i] = outItem{}
	}
	q.buf, q.items, q.head, q.queued, q.files, q.streams = q.buf[:0], q.items[:0], 0, 0, 0, 0
	for i := range q.iov {
		q.iov[i] = nil
	}
}
