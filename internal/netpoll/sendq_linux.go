package netpoll

import "golang.org/x/sys/unix"

// SendQueue returns how many bytes a TCP socket holds that its peer has not
// acknowledged yet (SIOCOUTQ), or -1 if it cannot tell. When a writer waits
// for a full socket, a queue that shrank means the client is still
// accepting bytes: progress that the writer cannot otherwise see until
// the kernel reports the socket writable again.
func SendQueue(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	if err != nil {
		return -1
	}
	return n
}

// SendQueue is SendQueue of the socket.
func (o *TCPOpts) SendQueue() int { return SendQueue(o.FD) }
