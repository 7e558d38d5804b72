// Package accesslog writes one line per answered request, in the common,
// combined or JSON format. Lines are formatted into a buffer under a mutex
// and written out when the buffer fills or once a second, so logging costs
// the hot path a memory copy rather than a system call.
package accesslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/weft-server/weft/internal/http1"
)

// Format is a log line layout.
type Format int

// The formats.
const (
	Common   Format = iota // NCSA common log format
	Combined               // common plus referer and user agent (nginx's default)
	JSON                   // one JSON object per line
)

// ParseFormat parses "common", "combined" or "json".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "common":
		return Common, nil
	case "combined":
		return Combined, nil
	case "json":
		return JSON, nil
	}
	return 0, fmt.Errorf("weft: unknown log format %q (want common, combined or json)", s)
}

// Logger is an access log. It is safe for concurrent use.
type Logger struct {
	format Format
	mu     sync.Mutex
	w      *bufio.Writer
	line   []byte
	err    error
	stop   chan struct{}
	done   chan struct{}
}

// New returns a Logger writing to w, flushed at least every interval.
func New(w io.Writer, format Format, interval time.Duration) *Logger {
	l := &Logger{format: format, w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go l.flusher(interval)
	return l
}

func (l *Logger) flusher(interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.Flush()
		case <-l.stop:
			return
		}
	}
}

// Flush writes out buffered lines.
func (l *Logger) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
	}
	return l.err
}

// Close stops the flusher and writes out what is buffered.
func (l *Logger) Close() error {
	close(l.stop)
	<-l.done
	return l.Flush()
}

// Log implements engine.RecordSink.
func (l *Logger) Log(r *http1.Record) {
	l.mu.Lock()
	l.line = l.format.Append(l.line[:0], r)
	if l.w.Available() < len(l.line) {
		// Write out whole lines only: prefork workers share the log,
		// and a line split across two writes could interleave with
		// another worker's.
		if err := l.w.Flush(); err != nil && l.err == nil {
			l.err = errors.Join(errors.New("weft: access log"), err)
		}
	}
	if _, err := l.w.Write(l.line); err != nil && l.err == nil {
		l.err = errors.Join(errors.New("weft: access log"), err)
	}
	l.mu.Unlock()
}

// Append appends r as one line in format f.
func (f Format) Append(b []byte, r *http1.Record) []byte {
	if f == JSON {
		return appendJSON(b, r)
	}
	b = r.Remote.Addr().AppendTo(b)
	b = append(b, " - - ["...)
	b = r.Time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.Target)
	if r.Major > 0 {
		b = append(b, " HTTP/"...)
		b = strconv.AppendInt(b, int64(r.Major), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.Minor), 10)
	}
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.Bytes, 10)
	if f == Combined {
		b = append(b, " \""...)
		b = appendEscaped(b, orDash(r.Referer))
		b = append(b, "\" \""...)
		b = appendEscaped(b, orDash(r.UserAgent))
		b = append(b, '"')
	}
	return append(b, '\n')
}

var dash = []byte("-")

func orDash(b []byte) []byte {
	if len(b) == 0 {
		return dash
	}
	return b
}

// appendEscaped writes client bytes so they cannot forge log lines: quotes,
// backslashes, control and non-ASCII bytes become \xHH, as nginx does.
func appendEscaped(b, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

func appendJSON(b []byte, r *http1.Record) []byte {
	b = append(b, `{"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","remote":"`...)
	b = r.Remote.Addr().AppendTo(b)
	b = append(b, `","method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, r.Target)
	b = append(b, `,"proto":"HTTP/`...)
	b = strconv.AppendInt(b, int64(r.Major), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(r.Minor), 10)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, `,"referer":`...)
	b = appendJSONString(b, r.Referer)
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, r.UserAgent)
	return append(b, "}\n"...)
}

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for len(s) > 0 {
		c := s[0]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[:size]...)
		}
		s = s[size:]
	}
	return append(b, '"')
}
