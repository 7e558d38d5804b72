package h1conn

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// Streamed bodies (http1.Response.Stream). Their producer may block on
// disk and runs on a goroutine of its own, started when the body reaches
// the front of the output queue. It writes into a pipe of pipeDepth
// buffers of pipeBuf bytes; Flush sends what the pipe holds, each buffer
// as one chunk (HTTP/1.1) or as is (HTTP/1.0, delimited by the close).
// The producer blocks while the pipe is full and the client slow, so a
// body of any size holds at most pipeDepth+2 buffers (those queued, the
// one being filled, the one being sent). Releasing the connection (the
// client left, a timeout, a shutdown) closes the pipe: the producer's
// next Write fails and it returns.
//
// A blocking engine's Flush waits for the producer. An event loop, which
// must not wait, gives its Conn a Notifier (SetNotifier): Flush then
// returns ErrStreamWait when the pipe is empty, and the producer calls
// Notify once it has filled a buffer or ended. Either way the write
// timeout holds: a body that sends no byte for WriteTimeout, because the
// client takes none or because the producer makes none, is cut.

// ErrStreamWait is returned by Flush when a streamed body's producer has
// nothing ready yet and the Conn has a Notifier: the engine stops waiting
// for the socket and drives the connection again after Notify.
var ErrStreamWait = errors.New("weft: waiting for a streamed body")

// ErrYield is returned by Flush when a streamed body has sent its share of
// one turn (streamTurn) to a Conn with a Notifier while the socket still
// takes bytes: the engine drives the connection again after the others.
var ErrYield = errors.New("weft: streamed body yields its turn")

// errPipeClosed is what the producer's Write returns once the connection
// has given up on the body.
var errPipeClosed = errors.New("weft: connection closed")

// errStreamStalled is the error of a producer that made no byte for the
// write timeout.
var errStreamStalled = errors.New("weft: streamed body stalled")

// errStreamCut is what Flush returns when the producer failed: the body
// is cut, and the connection must close.
var errStreamCut = errors.New("weft: streamed body failed")

// Notifier is told, from a streamed body's producer goroutine, that the
// body it waits for has more bytes or has ended. Notify may be called
// after the connection is closed, and must then do nothing harmful.
type Notifier interface {
	Notify()
}

// SetNotifier makes Flush return ErrStreamWait instead of waiting for a
// streamed body's producer; n is told when to flush again.
func (c *Conn) SetNotifier(n Notifier) { c.notify = n }

const (
	pipeBuf   = 64 << 10
	pipeDepth = 4
	// streamTurn bounds the bytes of a streamed body one Flush sends for
	// an event loop before yielding (ErrYield), as the loops' send
	// budget does for files: a fast producer and a fast client must not
	// hold the loop.
	streamTurn = 1 << 20
)

// chunk is one buffer from the producer, or its end.
type chunk struct {
	b   *[]byte
	end bool
	err error // the producer's, with end
}

// pipe carries a streamed body from its producer to the connection.
type pipe struct {
	full    chan chunk
	free    chan *[]byte // buffers sent, for the producer to fill again
	quit    chan struct{}
	quitted bool // quit is closed (consumer side only)
	waiting atomic.Bool
	notify  Notifier
	cur     *[]byte // being filled (producer side only)
}

// streamBody is a queued streamed body and, once started, the state of
// sending it.
type streamBody struct {
	src     http1.Stream
	closer  io.Closer // closed after src.WriteTo returns (or at once, if never started)
	chunked bool
	p       *pipe
	b       *[]byte  // the buffer being sent
	rem     [][]byte // what is left to send of the current chunk
	frame   [3][]byte
	hdr     [20]byte
	ended   bool
	// The current frame is pre bytes of framing (a chunk's size line),
	// data bytes of the body, then framing again; done of it are sent.
	pre, data, done int64
}

// payload is how many of the first d bytes of the current frame are the
// body's.
func (sb *streamBody) payload(d int64) int64 { return min(max(d-sb.pre, 0), sb.data) }

// setFrame makes rem the frame of data bytes behind pre bytes of framing.
func (sb *streamBody) setFrame(parts int, pre, data int64) {
	sb.rem = sb.frame[:parts]
	sb.pre, sb.data, sb.done = pre, data, 0
}

func (q *outQueue) addStream(src http1.Stream, closer io.Closer, chunked bool) {
	q.streams++
	q.items = append(q.items, outItem{kind: itemStream, stream: &streamBody{src: src, closer: closer, chunked: chunked}})
}

// start runs the producer on a goroutine of its own.
func (sb *streamBody) start(n Notifier) {
	p := &pipe{
		full:   make(chan chunk, pipeDepth),
		free:   make(chan *[]byte, pipeDepth+2),
		quit:   make(chan struct{}),
		notify: n,
	}
	sb.p = p
	src, closer := sb.src, sb.closer
	sb.src, sb.closer = nil, nil
	go p.produce(src, closer)
}

func (p *pipe) produce(src http1.Stream, closer io.Closer) {
	defer func() {
		if closer != nil {
			closer.Close()
		}
	}()
	_, err := src.WriteTo(p)
	if err == nil && p.cur != nil && len(*p.cur) > 0 {
		err = p.send(chunk{b: p.cur})
		p.cur = nil
	}
	if err == errPipeClosed {
		return
	}
	p.send(chunk{end: true, err: err})
}

// Write implements io.Writer for the producer: it fills buffers and
// queues each once full, waiting while the pipe is.
func (p *pipe) Write(b []byte) (int, error) {
	select {
	case <-p.quit:
		return 0, errPipeClosed // the connection gave up: stop at once
	default:
	}
	n := 0
	for len(b) > 0 {
		if p.cur == nil {
			select {
			case p.cur = <-p.free:
				*p.cur = (*p.cur)[:0]
			default:
				buf := make([]byte, 0, pipeBuf)
				p.cur = &buf
			}
		}
		buf := *p.cur
		k := copy(buf[len(buf):cap(buf)], b)
		*p.cur = buf[:len(buf)+k]
		b, n = b[k:], n+k
		if len(*p.cur) == cap(*p.cur) {
			if err := p.send(chunk{b: p.cur}); err != nil {
				return n, err
			}
			p.cur = nil
		}
	}
	return n, nil
}

// send queues c, waiting for room, and notifies a consumer waiting for it.
func (p *pipe) send(c chunk) error {
	select {
	case <-p.quit: // first: with room in full too, select would pick either
		return errPipeClosed
	default:
	}
	select {
	case p.full <- c:
	case <-p.quit:
		return errPipeClosed
	}
	if p.notify != nil && p.waiting.CompareAndSwap(true, false) {
		p.notify.Notify()
	}
	return nil
}

// next returns the next chunk; without one ready it waits up to wait
// when block is set (then an end with errStreamStalled), else it arms the
// notification and reports false.
func (p *pipe) next(block bool, wait time.Duration) (chunk, bool) {
	select {
	case c := <-p.full:
		return c, true
	default:
	}
	if block {
		if wait <= 0 {
			wait = DefaultWriteTimeout
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case c := <-p.full:
			return c, true
		case <-t.C:
			return chunk{end: true, err: errStreamStalled}, true
		}
	}
	p.waiting.Store(true)
	select {
	case c := <-p.full:
		p.waiting.Store(false)
		return c, true
	default:
		return chunk{}, false
	}
}

// recycle hands a sent buffer back to the producer.
func (p *pipe) recycle(b *[]byte) {
	select {
	case p.free <- b:
	default:
	}
}

func (p *pipe) close() {
	if !p.quitted {
		p.quitted = true
		close(p.quit)
	}
}

// abandon releases a streamed body that will not be sent in full.
func (sb *streamBody) abandon() {
	if sb.p != nil {
		sb.p.close()
	} else if sb.closer != nil {
		sb.closer.Close()
	}
	sb.src, sb.closer, sb.b, sb.rem = nil, nil, nil, nil
}

// flushStream sends the streamed body of item it until it ends (nil),
// the sink fails or would block, or the producer has nothing ready
// (ErrStreamWait, with a Notifier; without one it waits up to wait).
func (q *outQueue) flushStream(s Sink, it *outItem, n Notifier, wait time.Duration) error {
	sb := it.stream
	if sb.p == nil {
		sb.start(n)
	}
	var turn int64
	for {
		if len(sb.rem) > 0 {
			if n != nil && turn >= streamTurn {
				return ErrYield
			}
			q.iov = append(q.iov[:0], sb.rem...)
			m, err := s.Writev(q.iov)
			q.sent += m
			q.framing += m - (sb.payload(sb.done+m) - sb.payload(sb.done))
			sb.done += m
			turn += m
			sb.consume(m)
			if err != nil {
				return err
			}
			continue
		}
		if sb.b != nil {
			sb.p.recycle(sb.b)
			sb.b = nil
		}
		if sb.ended {
			sb.p.close()
			q.streams--
			return nil
		}
		c, ok := sb.p.next(n == nil, wait)
		if !ok {
			return ErrStreamWait
		}
		switch {
		case c.end && c.err != nil:
			return fmt.Errorf("%w: %w", errStreamCut, c.err)
		case c.end:
			sb.ended = true
			if sb.chunked {
				sb.frame[0] = lastChunk
				sb.setFrame(1, int64(len(lastChunk)), 0)
			}
		case sb.chunked:
			sb.b = c.b
			h := strconv.AppendInt(sb.hdr[:0], int64(len(*c.b)), 16)
			sb.frame = [3][]byte{append(h, '\r', '\n'), *c.b, crlf}
			sb.setFrame(3, int64(len(h)+2), int64(len(*c.b)))
		default:
			sb.b = c.b
			sb.frame[0] = *c.b
			sb.setFrame(1, 0, int64(len(*c.b)))
		}
	}
}

var (
	lastChunk = []byte("0\r\n\r\n")
	crlf      = []byte("\r\n")
)

// consume drops n sent bytes from the front of rem.
func (sb *streamBody) consume(n int64) {
	for n > 0 && len(sb.rem) > 0 {
		k := int64(len(sb.rem[0]))
		if n < k {
			sb.rem[0] = sb.rem[0][n:]
			return
		}
		n -= k
		sb.rem = sb.rem[1:]
	}
	for len(sb.rem) > 0 && len(sb.rem[0]) == 0 {
		sb.rem = sb.rem[1:]
	}
}
