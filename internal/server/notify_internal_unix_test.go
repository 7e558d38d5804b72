//go:build unix

package server

import (
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestNotifierSilentAfterStopping: once STOPPING=1 is sent, a READY=1 (a
// process engine's workers becoming ready late, a reload that ends during
// the drain) and a RELOADING=1 are not, and the readiness probe's flag
// stays false.
func TestNotifierSilentAfterStopping(t *testing.T) {
	ns := ListenNotify(t)
	n := &notifier{on: true, status: "serving"}
	var serving atomic.Bool
	n.ready(&serving)
	n.stopping(&serving)
	n.stopping(&serving)
	n.reloading()
	n.ready(nil)
	n.ready(&serving)
	if serving.Load() {
		t.Error("marked serving after the stop began")
	}
	var got []string
	buf := make([]byte, 512)
	for {
		ns.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		k, err := ns.Read(buf)
		if err != nil {
			break
		}
		got = append(got, strings.SplitN(string(buf[:k]), "\n", 2)[0])
	}
	if strings.Join(got, " ") != "READY=1 STOPPING=1" {
		t.Errorf("sent %q, want READY=1 then STOPPING=1 and nothing more", got)
	}
}

// ListenNotify listens on a datagram socket that NOTIFY_SOCKET names
// until t ends, as a service manager does.
func ListenNotify(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	ns, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return ns
}
