package loadgen

import (
	"bytes"
	"io"
	"sync"
)

// reader reads HTTP/1.1 responses from one connection without allocating:
// it keeps what follows a response (the next pipelined one) and discards
// bodies through a pooled buffer.
type reader struct {
	src  io.Reader
	buf  []byte
	r, w int
}

type response struct {
	status int
	body   int64
	keep   bool
}

// maxHead bounds a response head.
const maxHead = 64 << 10

var discardPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (rd *reader) reset(src io.Reader) { rd.src, rd.r, rd.w = src, 0, 0 }

// fill reads more bytes after rd.w, compacting or growing the buffer.
func (rd *reader) fill() error {
	if rd.r > 0 {
		n := copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r, rd.w = 0, n
	}
	if rd.w == len(rd.buf) {
		if len(rd.buf) >= maxHead {
			return errProtocol
		}
		nb := make([]byte, 2*len(rd.buf))
		copy(nb, rd.buf[:rd.w])
		rd.buf = nb
	}
	n, err := rd.src.Read(rd.buf[rd.w:])
	rd.w += n
	if n > 0 {
		return nil
	}
	if err == io.EOF && rd.w > rd.r {
		return io.ErrUnexpectedEOF
	}
	return err
}

var (
	crlf2         = []byte("\r\n\r\n")
	hContentLen   = []byte("content-length")
	hConnection   = []byte("connection")
	hTransferEnc  = []byte("transfer-encoding")
	valClose      = []byte("close")
	valChunked    = []byte("chunked")
	httpVersion11 = []byte("HTTP/1.1 ")
	httpVersion10 = []byte("HTTP/1.0 ")
)

// response reads one response whole.
func (rd *reader) response() (response, error) {
	var end int
	for {
		if i := bytes.Index(rd.buf[rd.r:rd.w], crlf2); i >= 0 {
			end = rd.r + i + 4
			break
		}
		if err := rd.fill(); err != nil {
			return response{}, err
		}
	}
	head := rd.buf[rd.r:end]
	rd.r = end
	if len(head) < 16 || (!bytes.HasPrefix(head, httpVersion11) && !bytes.HasPrefix(head, httpVersion10)) {
		return response{}, errProtocol
	}
	resp := response{keep: head[7] == '1'}
	for _, ch := range head[9:12] {
		if ch < '0' || ch > '9' {
			return response{}, errProtocol
		}
		resp.status = resp.status*10 + int(ch-'0')
	}
	length, chunked := int64(-1), false
	line := head[bytes.IndexByte(head, '\n')+1:]
	for len(line) > 2 {
		nl := bytes.IndexByte(line, '\n')
		l := line[:nl]
		line = line[nl+1:]
		colon := bytes.IndexByte(l, ':')
		if colon < 0 {
			return response{}, errProtocol
		}
		name, value := l[:colon], bytes.TrimSpace(l[colon+1:])
		switch {
		case equalFold(name, hContentLen):
			length = 0
			for _, ch := range value {
				if ch < '0' || ch > '9' || length > 1<<50 {
					return response{}, errProtocol
				}
				length = length*10 + int64(ch-'0')
			}
		case equalFold(name, hConnection):
			if equalFold(value, valClose) {
				resp.keep = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				resp.keep = true
			}
		case equalFold(name, hTransferEnc):
			chunked = containsFold(value, valChunked)
		}
	}
	if resp.status/100 == 1 || resp.status == 204 || resp.status == 304 {
		return resp, nil
	}
	var err error
	switch {
	case chunked:
		resp.body, err = rd.chunked()
	case length >= 0:
		resp.body = length
		err = rd.discard(length)
	default:
		// Delimited by the close: read to EOF.
		resp.keep = false
		resp.body, err = rd.toEOF()
	}
	return resp, err
}

// discard skips n body bytes.
func (rd *reader) discard(n int64) error {
	have := int64(rd.w - rd.r)
	if have >= n {
		rd.r += int(n)
		return nil
	}
	n -= have
	rd.r, rd.w = 0, 0
	if n <= int64(len(rd.buf)) {
		for rd.w < int(n) {
			m, err := rd.src.Read(rd.buf[rd.w:])
			rd.w += m
			if m == 0 && err != nil {
				return unexpected(err)
			}
		}
		rd.r = int(n)
		return nil
	}
	bp := discardPool.Get().(*[]byte)
	defer discardPool.Put(bp)
	b := *bp
	for n > 0 {
		m, err := rd.src.Read(b[:min(int64(len(b)), n)])
		n -= int64(m)
		if m == 0 && err != nil {
			return unexpected(err)
		}
	}
	return nil
}

func (rd *reader) toEOF() (int64, error) {
	n := int64(rd.w - rd.r)
	rd.r = rd.w
	bp := discardPool.Get().(*[]byte)
	defer discardPool.Put(bp)
	for {
		m, err := rd.src.Read(*bp)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// chunked skips a chunked body and its trailers, returning the data size.
func (rd *reader) chunked() (int64, error) {
	var total int64
	for {
		line, err := rd.line()
		if err != nil {
			return total, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		var size int64
		if len(line) == 0 {
			return total, errProtocol
		}
		for _, ch := range line {
			v := unhex(ch)
			if v < 0 || size > 1<<50 {
				return total, errProtocol
			}
			size = size<<4 | int64(v)
		}
		if size == 0 {
			for { // trailers up to the empty line
				l, err := rd.line()
				if err != nil {
					return total, err
				}
				if len(bytes.TrimSpace(l)) == 0 {
					return total, nil
				}
			}
		}
		total += size
		if err := rd.discard(size + 2); err != nil {
			return total, err
		}
	}
}

// line returns the next line, valid until the next read.
func (rd *reader) line() ([]byte, error) {
	for {
		if i := bytes.IndexByte(rd.buf[rd.r:rd.w], '\n'); i >= 0 {
			l := rd.buf[rd.r : rd.r+i]
			rd.r += i + 1
			return l, nil
		}
		if err := rd.fill(); err != nil {
			return nil, unexpected(err)
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// equalFold compares a with the lower-case ASCII b.
func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i, c := range a {
		if c|0x20 != b[i] {
			return false
		}
	}
	return true
}

func containsFold(s, sub []byte) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
