package netpoll

import (
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxSendfile is the most one sendfile(2) call is asked to move, like
// nginx's sendfile_max_chunk: the socket takes what fits either way.
const maxSendfile = 2 << 20

// SendFileRaw sends n bytes of src from off to the socket behind rc,
// letting Go's netpoller wait while the socket buffer is full. It does not
// move src's file offset, so src may be shared.
func SendFileRaw(rc syscall.RawConn, src int, off, n int64) (int64, error) {
	var written int64
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		for written < n {
			m, e := SendFile(int(fd), src, off+written, n-written)
			written += m
			switch {
			case e == unix.EAGAIN:
				return false
			case e != nil:
				serr = e
				return true
			}
		}
		return true
	})
	if serr != nil {
		return written, serr
	}
	return written, err
}

// SendFile makes one sendfile(2) call (retried on EINTR) from src at off to
// the socket dst and returns how much it moved. It returns unix.EAGAIN from
// a non-blocking socket that is full, and io.ErrUnexpectedEOF when src ends
// before off+n (the file shrank).
func SendFile(dst, src int, off, n int64) (int64, error) { return sendFile(dst, src, off, n, false) }

// SendFileNB is SendFile for a non-blocking socket on an event loop's own
// thread. It enters the kernel without telling Go's scheduler: a
// sendfile(2) that fills a socket buffer runs for a few hundred
// microseconds, long enough for the scheduler to hand the loop's P to
// another thread and take it back afterwards, which costs more than the
// copy itself. The catch, shared with nginx without aio: a cold page cache
// or a network file system makes the call wait for the disk while holding
// the P, and a garbage collection's stop-the-world waits with it; so the
// event loops use it only for files whose previous send went at memory
// speed, and SendFile otherwise (see evloop's warmFiles).
func SendFileNB(dst, src int, off, n int64) (int64, error) { return sendFile(dst, src, off, n, true) }

func sendFile(dst, src int, off, n int64, raw bool) (int64, error) {
	n = min(n, maxSendfile)
	for {
		o := off
		var m uintptr
		var e unix.Errno
		// Direct calls, so that the pointer conversion is kept alive
		// for the call (unsafe.Pointer rule 4).
		if raw {
			m, _, e = unix.RawSyscall6(unix.SYS_SENDFILE, uintptr(dst), uintptr(src), uintptr(unsafe.Pointer(&o)), uintptr(n), 0, 0)
		} else {
			m, _, e = unix.Syscall6(unix.SYS_SENDFILE, uintptr(dst), uintptr(src), uintptr(unsafe.Pointer(&o)), uintptr(n), 0, 0)
		}
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return 0, e
		case e != 0:
			return 0, os.NewSyscallError("sendfile", e)
		case m == 0:
			return 0, io.ErrUnexpectedEOF
		}
		return int64(m), nil
	}
}

// SendFileAll calls SendFile until n bytes have moved or a call fails
// (unix.EAGAIN included, for the caller to map to its own kind of wait).
func SendFileAll(dst, src int, off, n int64) (int64, error) {
	return sendFileAll(SendFile, dst, src, off, n)
}

// SendFileAllNB is SendFileAll made of SendFileNB calls.
func SendFileAllNB(dst, src int, off, n int64) (int64, error) {
	return sendFileAll(SendFileNB, dst, src, off, n)
}

func sendFileAll(send func(dst, src int, off, n int64) (int64, error), dst, src int, off, n int64) (int64, error) {
	var total int64
	for total < n {
		m, err := send(dst, src, off+total, n-total)
		total += m
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
