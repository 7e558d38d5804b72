//go:build unix && !aix

package netpoll

import "golang.org/x/sys/unix"

// dupCloexec duplicates fd with close-on-exec set in the same call, so a
// fork and exec in another thread cannot inherit the duplicate.
func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }
