package server

import (
	"sync"
	"sync/atomic"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Readiness for a service manager (systemd's Type=notify): when weft was
// started with NOTIFY_SOCKET, the server (never a prefork worker: its
// supervisor speaks for it) sends READY=1 with a STATUS= line once it
// serves (under the process engine, once its first workers serve),
// RELOADING=1 and READY=1 around a reload on SIGHUP, and STOPPING=1 when
// the graceful stop begins. Without NOTIFY_SOCKET nothing is sent.

// notifier sends those messages; its zero value (a prefork worker's) sends
// none. Once the stop has begun it says nothing more: neither a READY=1
// (the process engine's workers becoming ready, a reload ending) nor a
// RELOADING=1 may follow STOPPING=1.
type notifier struct {
	on     bool
	status string // the STATUS= sent with READY=1

	mu      sync.Mutex // held while sending: a second stopping waits for the first
	stopped bool
}

func (n *notifier) send(state string) {
	if n.on {
		daemon.SdNotify(false, state)
	}
}

// unlessStopped runs f under the lock, unless the stop has begun.
func (n *notifier) unlessStopped(f func()) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.stopped {
		f()
	}
}

// ready says READY=1 and, when serving is not nil, marks it true (for
// the readiness probe) in the same step, unless the stop has begun.
func (n *notifier) ready(serving *atomic.Bool) {
	n.unlessStopped(func() {
		if serving != nil {
			serving.Store(true)
		}
		n.send("READY=1\nSTATUS=" + n.status)
	})
}

// stopping marks serving false and says STOPPING=1, once; a call while
// another is sending returns when the message is sent.
func (n *notifier) stopping(serving *atomic.Bool) {
	n.unlessStopped(func() {
		n.stopped = true
		serving.Store(false)
		n.send("STOPPING=1\nSTATUS=stopping")
	})
}

// beforeStopping, when a test sets it, runs first in the goroutine the
// context's end starts, before it says STOPPING=1: a delay there is a
// scheduler that runs the goroutine late.
var beforeStopping atomic.Pointer[func()]

// reloading is sent as a reload begins; ready follows when it is done.
func (n *notifier) reloading() {
	n.unlessStopped(func() {
		n.send("RELOADING=1\n" + daemon.SdNotifyMonotonicUsec() + "\nSTATUS=reloading")
	})
}
