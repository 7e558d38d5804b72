//go:build !linux

package netpoll

import "syscall"

// SendFileRaw is not available here; callers copy instead.
func SendFileRaw(rc syscall.RawConn, src int, off, n int64) (int64, error) {
	return 0, ErrUnsupported
}
