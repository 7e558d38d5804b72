package server

import (
	"github.com/coreos/go-systemd/v22/daemon"
)

// Readiness for a service manager (systemd's Type=notify): when weft was
// started with NOTIFY_SOCKET, the server (never a prefork worker: its
// supervisor speaks for it) sends READY=1 with a STATUS= line once it
// serves (under the process engine, once its first workers serve),
// RELOADING=1 and READY=1 around a reload on SIGHUP, and STOPPING=1 when
// the graceful stop begins. Without NOTIFY_SOCKET nothing is sent.

// notifier sends those messages; its zero value (a prefork worker's) sends
// none.
type notifier struct {
	on     bool
	status string // the STATUS= sent with READY=1
}

func (n *notifier) send(state string) {
	if n != nil && n.on {
		daemon.SdNotify(false, state)
	}
}

func (n *notifier) ready()    { n.send("READY=1\nSTATUS=" + n.status) }
func (n *notifier) stopping() { n.send("STOPPING=1\nSTATUS=stopping") }

// reloading is sent as a reload begins; ready follows when it is done.
func (n *notifier) reloading() {
	n.send("RELOADING=1\n" + daemon.SdNotifyMonotonicUsec() + "\nSTATUS=reloading")
}
