package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Prep functions fill an entry from GetSQE. Memory an entry points at
// (buffers, message headers) must stay valid, and must not be moved, until
// its completion arrives: Go's heap does not move objects, but the caller
// must keep them referenced.

// PrepNop prepares a no-op.
func (e *SQE) PrepNop(ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpNop, -1, ud
}

// PrepAcceptMultishot prepares an accept on listener lfd that stays armed,
// posting one completion per connection (its result the new descriptor,
// opened with flags such as SOCK_NONBLOCK|SOCK_CLOEXEC) until it fails or
// is cancelled; a completion without CQEFMore ends it.
func (e *SQE) PrepAcceptMultishot(lfd int, flags uint32, ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpAccept, int32(lfd), ud
	e.Ioprio = acceptMultishot
	e.OpFlags = flags
}

// PrepRecvMultishot prepares a receive on fd that stays armed, each
// completion carrying data in a buffer the kernel picked from provided
// buffer group group (see BufRing); a result of 0 is the end of the
// stream, and a completion without CQEFMore ends the request (ENOBUFS when
// the group ran dry).
func (e *SQE) PrepRecvMultishot(fd int, group uint16, ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpRecv, int32(fd), ud
	e.Ioprio = recvMultishot
	e.Flags = SqeBufferSelect
	e.BufIndex = group
}

// PrepRecv prepares one receive into p.
func (e *SQE) PrepRecv(fd int, p []byte, ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpRecv, int32(fd), ud
	e.Addr, e.Len = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), uint32(len(p))
}

// PrepSend prepares one send of p with flags (MSG_*).
func (e *SQE) PrepSend(fd int, p []byte, flags uint32, ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpSend, int32(fd), ud
	e.Addr, e.Len = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), uint32(len(p))
	e.OpFlags = flags
}

// PrepSendZC prepares a zero-copy send of p with flags (MSG_*): the
// kernel sends from p's pages instead of copying them. It posts two
// completions with ud: the send's result, with CQEFMore set, and later one
// with CQEFNotif once the kernel no longer reads p, which must live and
// stay unchanged until then. (On loopback the receiving socket copies the
// pages anyway.)
func (e *SQE) PrepSendZC(fd int, p []byte, flags uint32, ud uint64) {
	e.PrepSend(fd, p, flags, ud)
	e.Opcode = OpSendZC
}

// PrepSendmsg prepares a sendmsg of msg (its iovecs gathered) with flags.
// The kernel copies the header and the iovec array at submission; the
// bytes they point at must live until the completion.
func (e *SQE) PrepSendmsg(fd int, msg *unix.Msghdr, flags uint32, ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpSendmsg, int32(fd), ud
	e.Addr, e.Len = uint64(uintptr(unsafe.Pointer(msg))), 1
	e.OpFlags = flags
}

// PrepPollAdd prepares a one-shot poll of fd for events (POLLIN, POLLOUT).
func (e *SQE) PrepPollAdd(fd int, events uint32, ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpPollAdd, int32(fd), ud
	e.OpFlags = events
}

// PrepRead prepares a read of p from fd at offset off (-1: the current
// position, as for an eventfd).
func (e *SQE) PrepRead(fd int, p []byte, off int64, ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpRead, int32(fd), ud
	e.Addr, e.Len = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), uint32(len(p))
	e.Off = uint64(off)
}

// PrepCancel prepares the cancellation of every request with user data
// target; it completes with the number cancelled, or ENOENT if none.
func (e *SQE) PrepCancel(target, ud uint64) {
	e.Opcode, e.Fd, e.UserData = OpAsyncCancel, -1, ud
	e.Addr = target
	e.OpFlags = cancelAll
}
