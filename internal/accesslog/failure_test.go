package accesslog_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/http1"
)

// flakyWriter fails every write while down is set, as a full disk does.
type flakyWriter struct {
	mu   sync.Mutex
	down bool
	out  bytes.Buffer
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down {
		return 0, syscall.ENOSPC
	}
	return w.out.Write(p)
}

func (w *flakyWriter) set(down bool) { w.mu.Lock(); w.down = down; w.mu.Unlock() }

// lockedBuffer is an error log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func numbered(i int) *http1.Record {
	r := rec
	r.Target = []byte(fmt.Sprintf("/n/%d", i))
	return &r
}

var lostRE = regexp.MustCompile(`lost_lines=(\d+)`)

// TestWriteFailureReportedRetriedCounted: a log whose output fails (a full
// disk) reports it once, keeps what it buffered, retries at every flush,
// counts the lines it had to drop, and says how many when writing resumes.
func TestWriteFailureReportedRetriedCounted(t *testing.T) {
	w := &flakyWriter{}
	var errs lockedBuffer
	l := accesslog.New(w, accesslog.Common, time.Hour, slog.New(slog.NewTextHandler(&errs, nil)))
	l.Log(numbered(0))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	w.set(true)
	const n = 5000 // about 300 KiB of lines: more than the buffer holds
	for i := 1; i <= n; i++ {
		l.Log(numbered(i))
		if i%1000 == 0 {
			if err := l.Flush(); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("flush during the outage: %v", err)
			}
		}
	}
	if c := strings.Count(errs.String(), "write failed"); c != 1 {
		t.Fatalf("the outage was reported %d times, want once:\n%s", c, errs.String())
	}
	w.set(false)
	if err := l.Flush(); err != nil {
		t.Fatalf("flush after recovery: %v", err)
	}
	for i := n + 1; i <= n+10; i++ {
		l.Log(numbered(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	m := lostRE.FindStringSubmatch(errs.String())
	if m == nil {
		t.Fatalf("no recovery report with a count of lost lines:\n%s", errs.String())
	}
	var lost int
	fmt.Sscan(m[1], &lost)
	lines := strings.Split(strings.TrimSuffix(w.out.String(), "\n"), "\n")
	if len(lines)+lost != n+11 {
		t.Fatalf("%d lines written + %d reported lost != %d logged", len(lines), lost, n+11)
	}
	if lost == 0 || len(lines) < 100 {
		t.Fatalf("%d lines written, %d lost: want the buffered lines kept and the rest counted", len(lines), lost)
	}
	for i, s := range lines {
		if !strings.HasPrefix(s, "2001:db8::1 - - [") || !strings.HasSuffix(s, " 200 1234") {
			t.Fatalf("line %d is not whole: %q", i, s)
		}
	}
	if !strings.Contains(lines[len(lines)-1], fmt.Sprintf("/n/%d ", n+10)) {
		t.Fatalf("last line %q: lines logged after recovery are missing", lines[len(lines)-1])
	}
}

// TestReopenMovesBufferedLines: Reopen during an outage sends what was
// buffered to the new output and writes there from then on.
func TestReopenMovesBufferedLines(t *testing.T) {
	old := &flakyWriter{down: true}
	var errs lockedBuffer
	l := accesslog.New(old, accesslog.Common, time.Hour, slog.New(slog.NewTextHandler(&errs, nil)))
	l.Log(numbered(1))
	l.Flush()
	fresh := &flakyWriter{}
	if got := l.Reopen(fresh); got != io.Writer(old) {
		t.Fatalf("Reopen returned %v, want the previous output", got)
	}
	l.Log(numbered(2))
	l.Close()
	if got := fresh.out.String(); strings.Count(got, "\n") != 2 || !strings.Contains(got, "/n/1 ") || !strings.Contains(got, "/n/2 ") {
		t.Fatalf("new output holds %q", got)
	}
	if !strings.Contains(errs.String(), "writing again") {
		t.Fatalf("no recovery report:\n%s", errs.String())
	}
}

// lineRE is a whole line as the writers below log it.
var lineRE = regexp.MustCompile(`^2001:db8::1 - - \[25/Nov/2026:20:00:00 \+0000\] "GET /w(\d+)/(\d+)/x+ HTTP/1.1" 200 1234$`)

// TestSharedPipeLinesWhole: several logs (as prefork workers have) write
// to one pipe that a slow reader drains; every line comes out whole.
func TestSharedPipeLinesWhole(t *testing.T) {
	// A blocking pipe with a descriptor per writer, as processes that
	// inherit it have (one *os.File would serialize the writes in Go).
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	pr := os.NewFile(uintptr(p[0]), "pipe-r")
	defer pr.Close()
	var ws []*os.File
	testSharedOutput(t, closers(&ws, p[1]), func() []string {
		var lines []string
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines)%50 == 0 {
				time.Sleep(time.Millisecond) // let the pipe fill
			}
		}
		return lines
	}, func(i int) io.Writer {
		fd, err := syscall.Dup(p[1])
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), "pipe-w")
		ws = append(ws, f)
		return f
	})
}

// closers closes fd and every file in *ws.
type closeAll struct {
	ws *[]*os.File
	fd int
}

func closers(ws *[]*os.File, fd int) io.Closer { return closeAll{ws, fd} }

func (c closeAll) Close() error {
	for _, f := range *c.ws {
		f.Close()
	}
	return syscall.Close(c.fd)
}

// TestSharedAppendFileLinesWhole checks that a regular file opened with
// O_APPEND, to which the log writes its whole buffer at once, keeps lines
// whole with several writers, each with its own open file description.
func TestSharedAppendFileLinesWhole(t *testing.T) {
	name := filepath.Join(t.TempDir(), "access.log")
	var files []*os.File
	testSharedOutput(t, nil, func() []string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Error(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}, func(i int) io.Writer {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		return f
	})
	for _, f := range files {
		f.Close()
	}
}

func testSharedOutput(t *testing.T, closeAfter io.Closer, read func() []string, out func(i int) io.Writer) {
	const writers, each = 4, 4000
	var logs []*accesslog.Logger
	for i := 0; i < writers; i++ {
		logs = append(logs, accesslog.New(out(i), accesslog.Common, time.Hour, nil))
	}
	var wg sync.WaitGroup
	for i, l := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rec
			for j := 0; j < each; j++ {
				// Lines of 70 to 370 bytes, so line ends fall anywhere.
				r.Target = fmt.Appendf(nil, "/w%d/%d/%s", i, j, strings.Repeat("x", 1+j%300))
				l.Log(&r)
			}
			l.Close()
		}()
	}
	got := make(chan []string)
	if closeAfter != nil {
		go func() { got <- read() }()
		wg.Wait()
		closeAfter.Close()
	} else {
		wg.Wait()
		go func() { got <- read() }()
	}
	lines := <-got
	seen := map[string]bool{}
	for i, s := range lines {
		m := lineRE.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("line %d of %d is not whole: %.120q", i, len(lines), s)
		}
		seen[m[1]+"/"+m[2]] = true
	}
	if len(lines) != writers*each || len(seen) != writers*each {
		t.Fatalf("%d lines (%d distinct), want %d", len(lines), len(seen), writers*each)
	}
}
