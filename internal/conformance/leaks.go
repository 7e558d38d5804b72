package conformance

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkLeaks records the goroutines and open descriptors of this process
// and, when the test ends (after every server it started has shut down),
// fails if they did not return to that baseline within a few seconds.
func checkLeaks(t *testing.T) {
	// Go's own poller opens its descriptors on first use, which may
	// come only from a server under test: start it now.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	g0, fd0 := runtime.NumGoroutine(), openFDs()
	t.Cleanup(func() {
		var g, fd int
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			g, fd = runtime.NumGoroutine(), openFDs()
			if (g <= g0 && fd <= fd0) || time.Now().After(deadline) {
				break
			}
		}
		if g > g0 {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Errorf("goroutines leaked: %d before, %d after\n%s", g0, g, buf[:n])
		}
		if fd0 >= 0 && fd > fd0 {
			t.Errorf("descriptors leaked: %d open before, %d after", fd0, fd)
		}
	})
}

// openFDs counts this process's open descriptors, or -1 where /proc is
// missing.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// BuildBinary builds cmd/weft into a temporary directory, for tests that
// run weft as its own process. root is the module root relative to the
// calling test's directory (for example "../../.."). The returned function
// removes it.
func BuildBinary(root string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "weft-bin-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "weft")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		// A test binary under -race builds weft with the race detector too,
		// so the prefork supervisor and workers are checked as well.
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, filepath.Join(root, "cmd", "weft"))...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, &buildError{err, strings.TrimSpace(string(out))}
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }
