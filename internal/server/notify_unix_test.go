//go:build unix

package server_test

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/server"
)

// TestStoppingSentBeforeRunReturns: STOPPING=1 is on the service
// manager's socket by the time Run returns, exactly once, even when the
// goroutine the context's end starts runs late (here, 20 ms late). An
// idle server stops at once, and the process exits as Run returns: a
// message left to that goroutine may never be sent at all (what a flaky
// TestNotify in cmd/weft caught once).
func TestStoppingSentBeforeRunReturns(t *testing.T) {
	server.DelayStopping(t, func() { time.Sleep(20 * time.Millisecond) })
	ns := server.ListenNotify(t)
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
	for i := range 10 {
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
