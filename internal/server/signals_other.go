//go:build !unix

package server

import (
	"os"
	"os/signal"
	"syscall"
)

// handleSignals delivers SIGHUP to c instead of letting it end the process.
func handleSignals(c chan<- os.Signal) { signal.Notify(c, syscall.SIGHUP) }

// releaseSignals stops delivering to c; SIGHUP stays ignored.
func releaseSignals(c chan<- os.Signal) {
	signal.Stop(c)
	signal.Ignore(syscall.SIGHUP)
}
