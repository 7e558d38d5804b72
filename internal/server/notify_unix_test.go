//go:build unix

package server_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/server"
)

// TestStoppingSentBeforeRunReturns: STOPPING=1 is on the service
// manager's socket by the time Run returns. An idle server stops at once,
// and the process exits as Run returns: a message sent from a goroutine
// the stop merely started may never be sent at all (what a flaky
// TestNotify in cmd/weft caught once).
func TestStoppingSentBeforeRunReturns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	ns, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	rc, err := ns.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	// queued returns the messages already on the socket, without waiting.
	queued := func() []string {
		var msgs []string
		buf := make([]byte, 4096)
		rc.Read(func(fd uintptr) bool {
			for {
				n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
				if err != nil {
					return true
				}
				msgs = append(msgs, string(buf[:n]))
			}
		})
		return msgs
	}
	for i := range 30 {
		w := startWeft(t, server.Config{Engine: "goroutine"})
		deadline := time.Now().Add(10 * time.Second)
		var got []string
		for len(got) == 0 && time.Now().Before(deadline) {
			got = queued()
			time.Sleep(time.Millisecond)
		}
		if len(got) != 1 || !strings.Contains(got[0], "READY=1") {
			t.Fatalf("run %d: %q once serving, want READY=1", i, got)
		}
		if err := w.stop(); err != nil {
			t.Fatal(err)
		}
		if got = queued(); len(got) != 1 || !strings.Contains(got[0], "STOPPING=1") {
			t.Fatalf("run %d: %q on the socket when Run returned, want STOPPING=1", i, got)
		}
	}
}
