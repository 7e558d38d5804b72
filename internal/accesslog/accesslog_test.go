package accesslog_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/http1"
)

var rec = http1.Record{
	Remote:    netip.MustParseAddrPort("[2001:db8::1]:4321"),
	Time:      time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC),
	Method:    []byte("GET"),
	Target:    []byte("/a\"b\x01c"),
	Major:     1,
	Minor:     1,
	Status:    200,
	Bytes:     1234,
	Sent:      1400,
	Duration:  2500 * time.Microsecond,
	Referer:   nil,
	UserAgent: []byte("curl/8 \xff\"x\""),
}

func TestFormats(t *testing.T) {
	cases := map[accesslog.Format]string{
		accesslog.Common:   `2001:db8::1 - - [25/Nov/2026:20:00:00 +0000] "GET /a\x22b\x01c HTTP/1.1" 200 1234` + "\n",
		accesslog.Combined: `2001:db8::1 - - [25/Nov/2026:20:00:00 +0000] "GET /a\x22b\x01c HTTP/1.1" 200 1234 "-" "curl/8 \xFF\x22x\x22"` + "\n",
	}
	for f, want := range cases {
		if got := string(f.Append(nil, &rec)); got != want {
			t.Errorf("format:\n got %q\nwant %q", got, want)
		}
	}
	line := accesslog.JSON.Append(nil, &rec)
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("JSON line %q: %v", line, err)
	}
	if m["remote"] != "2001:db8::1" || m["target"] != "/a\"b\x01c" || m["status"] != 200.0 || m["user_agent"] != "curl/8 \ufffd\"x\"" ||
		m["bytes"] != 1234.0 || m["bytes_sent"] != 1400.0 || m["duration"] != 0.0025 {
		t.Errorf("JSON fields: %v", m)
	}
	if strings.Count(string(line), "\n") != 1 {
		t.Errorf("JSON record spans lines: %q", line)
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"common", "combined", "json"} {
		if _, err := accesslog.ParseFormat(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := accesslog.ParseFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}

func TestBufferedAndFlushedOnClose(t *testing.T) {
	var buf bytes.Buffer
	l := accesslog.New(&buf, accesslog.Common, time.Hour, nil)
	l.Log(&rec)
	if buf.Len() != 0 {
		t.Fatal("written before a flush: the log is not buffered")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "2001:db8::1 - - ") {
		t.Fatalf("after Close: %q", buf.String())
	}
}

// lineWriter records each Write call.
type lineWriter struct{ writes []string }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestWritesWholeLines: every write the log makes holds whole lines, and
// at most PIPE_BUF bytes to an output that is not a regular file, so
// processes sharing one log pipe cannot interleave inside a line.
func TestWritesWholeLines(t *testing.T) {
	w := &lineWriter{}
	l := accesslog.New(w, accesslog.Combined, time.Hour, nil)
	for i := 0; i < 2000; i++ {
		l.Log(&rec)
	}
	l.Close()
	if len(w.writes) < 2 {
		t.Fatalf("%d writes; want the buffer to have filled several times", len(w.writes))
	}
	for i, s := range w.writes {
		if !strings.HasSuffix(s, "\n") || !strings.HasPrefix(s, "2001:db8::1 ") {
			t.Fatalf("write %d splits a line: starts %q, ends %q", i, s[:20], s[len(s)-20:])
		}
		if len(s) > 4096 {
			t.Fatalf("write %d is %d bytes, more than PIPE_BUF", i, len(s))
		}
	}
}
