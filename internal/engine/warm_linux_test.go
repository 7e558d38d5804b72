package engine

import (
	"os"
	"testing"
	"time"
)

// TestWarmFiles: a file's first send uses the scheduler-aware sendfile,
// later ones the raw call while sends stay at memory speed; a slow send
// (the disk) turns it back to the aware call.
func TestWarmFiles(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var calls []string
	var delay time.Duration
	w := &WarmFiles{
		raw: func(dst, src int, off, n int64) (int64, error) {
			calls = append(calls, "raw")
			time.Sleep(delay)
			return n, nil
		},
		aware: func(dst, src int, off, n int64) (int64, error) {
			calls = append(calls, "aware")
			time.Sleep(delay)
			return n, nil
		},
	}
	want := func(step, call string) {
		t.Helper()
		if got := calls[len(calls)-1]; got != call {
			t.Fatalf("%s: %s sendfile, want %s (calls %v)", step, got, call, calls)
		}
	}
	w.send(-1, f, 0, 1000)
	want("first send", "aware")
	w.send(-1, f, 0, 1000)
	want("after a fast send", "raw")
	delay = 5 * time.Millisecond // 1000 bytes in 5 ms: from the disk
	w.send(-1, f, 0, 1000)
	want("still warm", "raw")
	delay = 0
	w.send(-1, f, 0, 1000)
	want("after a slow send", "aware")
	w.send(-1, f, 0, 1000)
	want("fast again", "raw")
	// Another file (another *os.File, whatever its descriptor) starts
	// cold.
	w.send(-1, g, 0, 1000)
	want("another file", "aware")
}
