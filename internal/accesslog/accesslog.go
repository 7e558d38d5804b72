// Package accesslog writes one line per answered request, in the common,
// combined or JSON format or in a template of nginx-like variables
// (template.go), with times in local time or UTC. Lines are formatted into a buffer under a mutex
// and written out when the buffer fills or once a second, so logging costs
// the hot path a memory copy rather than a system call.
//
// A failed write (a full disk, a closed pipe) does not silence the log for
// good: the failure is reported once on the error log, the unwritten lines
// stay buffered and are retried at the next periodic flush, lines that do
// not fit meanwhile are dropped and counted, and when writing resumes the
// error log says how many were lost. Reopen swaps the output (for log
// rotation) and retries at once.
package accesslog

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/weft-server/weft/internal/http1"
)

// Format is a log line layout: one of the named formats or a template
// (see ParseFormat), with its times in local time or UTC.
type Format struct {
	l   *layout
	utc bool
}

// layout is a named format or a compiled template.
type layout struct {
	kind    kind
	segs    []segment // a template's
	headers bool      // a template's variables read Record.Headers
}

type kind uint8

const (
	kindCommon kind = iota
	kindCombined
	kindJSON
	kindTemplate
)

// The named formats.
var (
	Common   = Format{l: &layout{kind: kindCommon}}   // NCSA common log format
	Combined = Format{l: &layout{kind: kindCombined}} // common plus referer and user agent (nginx's default)
	JSON     = Format{l: &layout{kind: kindJSON}}     // one JSON object per line
)

// ParseFormat parses "common", "combined", "json", or a template: text
// with $variables (see template.go), compiled here once.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "common":
		return Common, nil
	case "combined":
		return Combined, nil
	case "json":
		return JSON, nil
	}
	if strings.Contains(s, "$") {
		return parseTemplate(s)
	}
	return Format{}, fmt.Errorf("weft: unknown log format %q (want common, combined, json or a template of $variables)", s)
}

// UTC returns f writing its times in UTC rather than local time.
func (f Format) UTC() Format {
	f.utc = true
	return f
}

// wantsHeaders reports whether f reads Record.Headers.
func (f Format) wantsHeaders() bool { return f.l != nil && f.l.headers }

const (
	// bufSize is the buffer of lines waiting to be written.
	bufSize = 64 << 10
	// pipeBuf is PIPE_BUF on Linux (and the POSIX minimum is 512; every
	// Unix weft runs on has at least 4096): a write to a pipe of at most
	// this many bytes is atomic, so lines from processes sharing the pipe
	// cannot interleave inside it.
	pipeBuf = 4096
)

// Logger is an access log. It is safe for concurrent use.
type Logger struct {
	format Format
	errLog *slog.Logger
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	w       io.Writer
	chunk   int    // largest write: pipeBuf unless w is a regular file
	buf     []byte // whole lines waiting to be written (a write error may leave a line's tail first)
	line    []byte
	failing error // the error of the last write, nil when it succeeded
	lost    int64 // lines dropped since failing began
}

// New returns a Logger writing to w, flushed at least every interval.
// Write failures and recoveries are reported on errLog (slog.Default when
// nil).
func New(w io.Writer, format Format, interval time.Duration, errLog *slog.Logger) *Logger {
	if errLog == nil {
		errLog = slog.Default()
	}
	l := &Logger{format: format, errLog: errLog, w: w, chunk: chunkFor(w), buf: make([]byte, 0, bufSize),
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.flusher(interval)
	return l
}

// chunkFor is the largest write to w that other processes writing to the
// same output cannot split: a write to a regular file opened with O_APPEND
// (or shared through one open file description, as inherited stdout is)
// lands whole, so the whole buffer goes at once; a pipe, a terminal, a
// socket or an unknown writer gets writes of at most PIPE_BUF bytes.
func chunkFor(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return bufSize
		}
	}
	return pipeBuf
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

// Flush writes out buffered lines, retrying after a failed write. It
// returns the error of the last write, nil once writing succeeds again.
func (l *Logger) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

// Close stops the flusher and writes out what is buffered.
func (l *Logger) Close() error {
	close(l.stop)
	<-l.done
	return l.Flush()
}

// Reopen writes what is buffered to the current output if it can, then
// makes w the output and writes out the rest there. It returns the
// previous output, for the caller to close. Lines buffered during an
// outage of the old output thus reach the new one.
func (l *Logger) Reopen(w io.Writer) io.Writer {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing == nil {
		l.flushLocked()
	}
	old := l.w
	l.w, l.chunk = w, chunkFor(w)
	l.flushLocked()
	return old
}

// WantsHeaders implements http1.HeaderSink: a template reading request
// fields other than Referer and User-Agent needs them.
func (l *Logger) WantsHeaders() bool { return l.format.wantsHeaders() }

// Log implements h1conn.RecordSink.
func (l *Logger) Log(r *http1.Record) {
	l.mu.Lock()
	l.line = l.format.Append(l.line[:0], r)
	if len(l.buf)+len(l.line) > cap(l.buf) && l.failing == nil {
		// While the output fails, only the flusher retries, once per
		// interval, rather than every request.
		l.flushLocked()
	}
	switch {
	case len(l.buf)+len(l.line) <= cap(l.buf):
		l.buf = append(l.buf, l.line...)
	case len(l.buf) == 0 && l.failing == nil:
		// A line larger than the buffer goes out alone.
		if _, err := l.w.Write(l.line); err != nil {
			l.fail(err)
			l.lost++
		}
	default:
		l.lost++
	}
	l.mu.Unlock()
}

// flushLocked writes the buffer out in chunks of whole lines of at most
// l.chunk bytes (a longer line goes alone). On failure what is unwritten
// stays for the next try.
func (l *Logger) flushLocked() error {
	off := 0
	var err error
	for off < len(l.buf) {
		n := wholeLines(l.buf[off:], l.chunk)
		var m int
		m, err = l.w.Write(l.buf[off : off+n])
		off += m
		if err != nil {
			break
		}
	}
	l.buf = l.buf[:copy(l.buf, l.buf[off:])]
	if err != nil {
		l.fail(err)
		return err
	}
	if l.failing != nil {
		if l.lost > 0 {
			l.errLog.Warn("access log: writing again", "lost_lines", l.lost, "after", l.failing)
		} else {
			l.errLog.Info("access log: writing again; no line lost", "after", l.failing)
		}
		l.failing, l.lost = nil, 0
	}
	return nil
}

// fail records a write error, reporting it when an outage begins.
func (l *Logger) fail(err error) {
	if l.failing == nil {
		l.errLog.Error("access log: write failed; retrying every flush, lines beyond the 64 KiB buffer are dropped and counted", "err", err)
	}
	l.failing = err
}

// wholeLines is how many bytes of b, at most max, end a line: at least one
// whole line even when it is longer than max, or all of b when it holds
// no newline.
func wholeLines(b []byte, max int) int {
	if len(b) <= max {
		return len(b)
	}
	if i := bytes.LastIndexByte(b[:max], '\n'); i >= 0 {
		return i + 1
	}
	if i := bytes.IndexByte(b[max:], '\n'); i >= 0 {
		return max + i + 1
	}
	return len(b)
}

// Append appends r as one line in format f.
func (f Format) Append(b []byte, r *http1.Record) []byte {
	t := r.Time
	if f.utc {
		t = t.UTC()
	}
	k := kindCommon
	if f.l != nil {
		k = f.l.kind
	}
	switch k {
	case kindJSON:
		return appendJSON(b, r, t)
	case kindTemplate:
		return f.l.appendTemplate(b, r, t)
	}
	b = appendRemote(b, r)
	b = append(b, " - - ["...)
	b = t.AppendFormat(b, timeLocal)
	b = append(b, "] \""...)
	b = appendRequest(b, r)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.Bytes, 10)
	if k == kindCombined {
		b = append(b, " \""...)
		b = appendEscaped(b, orDash(r.Referer))
		b = append(b, "\" \""...)
		b = appendEscaped(b, orDash(r.UserAgent))
		b = append(b, '"')
	}
	return append(b, '\n')
}

// appendRemote writes the client's address; a client of a unix socket has
// none, and is written "unix:", as nginx does.
func appendRemote(b []byte, r *http1.Record) []byte {
	if !r.Remote.Addr().IsValid() {
		return append(b, "unix:"...)
	}
	return r.Remote.Addr().AppendTo(b)
}

// timeLocal is CLF's time layout, nginx's $time_local.
const timeLocal = "02/Jan/2006:15:04:05 -0700"

// appendRequest appends the request line, escaped: method, target and
// protocol (none for a request too malformed to tell).
func appendRequest(b []byte, r *http1.Record) []byte {
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.Target)
	if r.Major > 0 {
		b = append(b, ' ')
		b = appendProto(b, r)
	}
	return b
}

// appendProto appends "HTTP/major.minor".
func appendProto(b []byte, r *http1.Record) []byte {
	b = append(b, "HTTP/"...)
	b = strconv.AppendInt(b, int64(r.Major), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(r.Minor), 10)
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

func appendJSON(b []byte, r *http1.Record, t time.Time) []byte {
	b = append(b, `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","remote":"`...)
	b = appendRemote(b, r)
	b = append(b, `","method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, r.Target)
	b = append(b, `,"proto":"`...)
	b = appendProto(b, r)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, `,"bytes_sent":`...)
	b = strconv.AppendInt(b, r.Sent, 10)
	b = append(b, `,"duration":`...)
	b = appendSeconds(b, r.Duration, 6)
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
