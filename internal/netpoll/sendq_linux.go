package netpoll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// SendQueue returns how many bytes a TCP socket holds that its peer has not
// acknowledged yet (SIOCOUTQ), or -1 if it cannot tell. When a writer waits
// for a full socket, a queue that shrank means the client is still
// accepting bytes: progress that the writer cannot otherwise see until
// the kernel reports the socket writable again.
//
// A raw system call, like the loops' reads and writes: the ioctl never
// blocks, and one that Go's scheduler sees (unix.IoctlGetInt) wakes
// sysmon from its deep sleep into polling every 20 µs whenever the loop
// had waited. A loop sending large files asks once per flush: serving
// 10 MiB files, this ioctl was 93% of the epoll loop's scheduler-visible
// calls (a uprobe on runtime.entersyscall), while sysmon's sleeps took 5%
// of the profile; no change in efficiency stood out of that case's noise.
func SendQueue(fd int) int {
	var n int32
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return -1
	}
	return int(n)
}

// SendQueue is SendQueue of the socket.
func (o *TCPOpts) SendQueue() int { return SendQueue(o.FD) }
