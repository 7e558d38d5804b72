package http1

// ChunkedBody reads the framing of a chunked request body (RFC 9112 §7.1)
// as it arrives, to find where the body ends and the next request begins.
// It keeps no data: weft takes no request bodies, it only drops them.
// Chunk extensions and trailer fields are accepted and ignored. Framing is
// strict: sizes are hexadecimal without overflow, and every line ends in
// CRLF; anything else is an error, and the connection must close, since
// where the next request starts is then unknown.
//
// The zero value is ready for a new body.
type ChunkedBody struct {
	state chunkState
	left  int64 // data bytes left in the current chunk
	line  int   // bytes of the current size line
	ext   int   // bytes of chunk extensions in the whole body so far
	trail int   // bytes of the trailer section so far
	data  int64 // data bytes of the whole body so far
}

type chunkState uint8

const (
	chunkSize    chunkState = iota // in the chunk-size digits
	chunkSizeWS                    // after the size, in whitespace before a ";"
	chunkExt                       // after the size, in chunk extensions
	chunkSizeLF                    // after the CR that ends the size line
	chunkData                      // in chunk data
	chunkDataCR                    // after chunk data, before its CR
	chunkDataLF                    // after that CR
	chunkTrailer                   // at the start of a trailer line (or the final CRLF)
	chunkTrailLn                   // inside a trailer field line
	chunkTrailLF                   // after the CR of a trailer line
	chunkEndLF                     // after the CR of the final empty line
	chunkDone                      // the body has ended
)

// MaxChunkLine bounds a chunk-size line with its extensions; the trailer
// section is bounded by the head limit.
const MaxChunkLine = 4 << 10

var errBadChunk = &Error{400, "malformed chunked body"}

// Data returns how many data bytes the body has carried so far, framing
// excluded: what a limit on body size counts.
func (d *ChunkedBody) Data() int64 { return d.data }

// Announced returns the data bytes carried so far plus those the current
// chunk's size line announced but that have not arrived yet: a limit on
// body size can refuse a body as soon as its size line exceeds it.
func (d *ChunkedBody) Announced() int64 {
	if d.state == chunkData {
		return d.data + d.left
	}
	return d.data
}

// Done reports whether the whole body has been read.
func (d *ChunkedBody) Done() bool { return d.state == chunkDone }

// Consume reads as much of b as belongs to the body and returns how many
// bytes that was. It stops at the body's end (Done then reports true),
// leaving what follows for the next request, and returns an error (status
// 400) for malformed framing. maxTrailer bounds the trailer section, and
// the chunk extensions of the whole body too: a body of one-byte chunks
// may not carry unbounded framing.
func (d *ChunkedBody) Consume(b []byte, maxTrailer int) (int, error) {
	i := 0
	for i < len(b) && d.state != chunkDone {
		if d.state == chunkData {
			n := int(min(d.left, int64(len(b)-i)))
			i += n
			d.left -= int64(n)
			d.data += int64(n)
			if d.left == 0 {
				d.state = chunkDataCR
			}
			continue
		}
		c := b[i]
		i++
		switch d.state {
		case chunkSize:
			v := Unhex(c)
			switch {
			case v >= 0:
				if d.line >= 15 { // 15 hex digits stay below 2^60: no overflow
					return i, errBadChunk
				}
				d.left = d.left<<4 | int64(v)
				d.line++
			case d.line == 0:
				return i, errBadChunk // no digits
			case c == ';':
				d.state = chunkExt
			case c == ' ' || c == '\t':
				d.state = chunkSizeWS
			case c == '\r':
				d.state = chunkSizeLF
			default:
				return i, errBadChunk
			}
		case chunkSizeWS:
			// BWS is allowed only before an extension (RFC 9112 §7.1.1).
			switch c {
			case ' ', '\t':
			case ';':
				d.state = chunkExt
			default:
				return i, errBadChunk
			}
		case chunkExt:
			d.line++
			d.ext++
			switch {
			case d.line > MaxChunkLine || d.ext > maxTrailer:
				return i, errBadChunk
			case c == '\r':
				d.state = chunkSizeLF
			case c == '\n' || (c < ' ' && c != '\t') || c == 0x7f:
				return i, errBadChunk
			}
		case chunkSizeLF:
			if c != '\n' {
				return i, errBadChunk
			}
			d.line = 0
			if d.left == 0 {
				d.state = chunkTrailer // the last chunk
			} else {
				d.state = chunkData
			}
		case chunkDataCR:
			if c != '\r' {
				return i, errBadChunk
			}
			d.state = chunkDataLF
		case chunkDataLF:
			if c != '\n' {
				return i, errBadChunk
			}
			d.state = chunkSize
		case chunkTrailer:
			if c == '\r' {
				d.state = chunkEndLF
				break
			}
			d.state = chunkTrailLn
			fallthrough
		case chunkTrailLn:
			d.trail++
			switch {
			case d.trail > maxTrailer:
				return i, errBadChunk
			case c == '\r':
				d.state = chunkTrailLF
			case c == '\n' || c == 0:
				return i, errBadChunk
			}
		case chunkTrailLF:
			if c != '\n' {
				return i, errBadChunk
			}
			d.state = chunkTrailer
		case chunkEndLF:
			if c != '\n' {
				return i, errBadChunk
			}
			d.state = chunkDone
		}
	}
	return i, nil
}

// Next is Consume for a reader of the body: it consumes framing at the
// start of b until chunk data begins, then at most one run of data, and
// returns how many bytes of b it consumed and the data among them (a view
// into b, nil when b held framing only).
func (d *ChunkedBody) Next(b []byte, maxTrailer int) (n int, data []byte, err error) {
	for n < len(b) && d.state != chunkData && d.state != chunkDone {
		k, err := d.Consume(b[n:n+1], maxTrailer)
		n += k
		if err != nil {
			return n, nil, err
		}
	}
	if d.state != chunkData || n == len(b) {
		return n, nil, nil
	}
	k := int(min(d.left, int64(len(b)-n)))
	data = b[n : n+k]
	d.Consume(data, maxTrailer) // data only: it cannot fail
	return n + k, data, nil
}

// Unhex returns the value of the hexadecimal digit c, or -1.
func Unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
