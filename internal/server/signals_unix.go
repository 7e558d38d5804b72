//go:build unix

package server

import (
	"os"
	"os/signal"
	"syscall"
)

// handleSignals sets the process's signal dispositions, for every engine:
// SIGPIPE is ignored, so that a write to a closed stdout or stderr pipe
// fails with EPIPE (which the access log reports and survives) instead of
// killing the server; SIGHUP and SIGUSR1 (nginx's "reopen the logs") are
// delivered to c instead of terminating the process.
func handleSignals(c chan<- os.Signal) {
	signal.Ignore(syscall.SIGPIPE)
	signal.Notify(c, syscall.SIGHUP, syscall.SIGUSR1)
}

// releaseSignals stops delivering to c. SIGHUP and SIGUSR1 stay ignored:
// a signal arriving while the server writes out its log and exits must
// not kill it.
func releaseSignals(c chan<- os.Signal) {
	signal.Stop(c)
	signal.Ignore(syscall.SIGHUP, syscall.SIGUSR1)
}
