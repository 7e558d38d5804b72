//go:build unix && !linux

package process

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// stopListening does nothing here: shutdown(2) on a listening socket does
// not stop it on every BSD, so new clients wait in the backlog until the
// last worker exits and closes the socket.
func stopListening(fd int) {}
