//go:build aix

package netpoll

import "syscall"

// dupCloexec duplicates fd, then sets close-on-exec: AIX has no
// F_DUPFD_CLOEXEC, so a fork in between may inherit the duplicate.
func dupCloexec(fd int) (int, error) {
	nfd, err := syscall.Dup(fd)
	if err == nil {
		syscall.CloseOnExec(nfd)
	}
	return nfd, err
}
