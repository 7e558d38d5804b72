//go:build unix && !linux

package netpoll

import "syscall"

func dupCloexec(fd int) (int, error) {
	nfd, err := syscall.Dup(fd)
	if err == nil {
		syscall.CloseOnExec(nfd)
	}
	return nfd, err
}
