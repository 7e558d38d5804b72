// Package uring is weft's own small io_uring binding over
// golang.org/x/sys/unix: it sets a ring up (io_uring_setup), maps its
// submission and completion queues and its submission entries, fills
// entries for the few operations an event loop needs (accept, recv,
// sendmsg, poll, read, cancel, nop; multishot where the kernel has it),
// submits and waits with one io_uring_enter, reaps completions, probes
// which operations the kernel supports, and registers provided-buffer
// rings for multishot receive.
//
// Memory ordering: the queues are shared with the kernel. The
// application writes an entry, then publishes it with an atomic store of
// the submission tail; it reads the kernel's progress with atomic loads
// of the submission head and the completion tail, and hands completion
// slots back with an atomic store of the completion head. Go's atomics
// are sequentially consistent, stronger than the acquire and release the
// protocol needs. The kernel's own flags (IORING_SQ_TASKRUN,
// IORING_SQ_CQ_OVERFLOW) are read with atomic loads too; what a caller may
// conclude from an unset flag depends on the kernel's ordering of it,
// which is its to judge (see the uring engine's park).
//
// A Ring is not safe for concurrent use: one goroutine owns it. Linux only;
// elsewhere New returns ErrUnsupported.
package uring

import "errors"

// ErrUnsupported is returned where io_uring cannot be used: another OS, a
// kernel without it, io_uring_disabled, or a seccomp filter.
var ErrUnsupported = errors.New("weft: io_uring is not available")
