//go:build unix

package netpoll

import (
	"os"
	"syscall"
)

// DupFD returns a close-on-exec duplicate of c's descriptor without
// touching its blocking mode (see ListenerFD).
func DupFD(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = dupCloexec(int(s))
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("dup", derr)
	}
	return fd, nil
}
