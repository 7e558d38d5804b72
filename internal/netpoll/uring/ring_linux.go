package uring

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Operation codes (enum io_uring_op) this package prepares or probes.
const (
	OpNop         uint8 = 0
	OpPollAdd     uint8 = 6
	OpSendmsg     uint8 = 9
	OpTimeout     uint8 = 11
	OpAccept      uint8 = 13
	OpAsyncCancel uint8 = 14
	OpRead        uint8 = 22
	OpSend        uint8 = 26
	OpRecv        uint8 = 27
	OpSplice      uint8 = 30
	OpShutdown    uint8 = 34
	OpSendZC      uint8 = 47
)

// Setup flags (io_uring_params.flags).
const (
	SetupCQSize       uint32 = 1 << 3
	SetupClamp        uint32 = 1 << 4
	SetupRDisabled    uint32 = 1 << 6
	SetupSubmitAll    uint32 = 1 << 7
	SetupCoopTaskrun  uint32 = 1 << 8
	SetupTaskrunFlag  uint32 = 1 << 9
	SetupSingleIssuer uint32 = 1 << 12
	SetupDeferTaskrun uint32 = 1 << 13
)

// Features the kernel reports (io_uring_params.features).
const (
	FeatSingleMmap uint32 = 1 << 0
	FeatNoDrop     uint32 = 1 << 1
	FeatFastPoll   uint32 = 1 << 5
	FeatExtArg     uint32 = 1 << 8
)

// Entry flags (SQE.Flags).
const (
	SqeIOLink       uint8 = 1 << 2
	SqeBufferSelect uint8 = 1 << 5
	SqeCQESkip      uint8 = 1 << 6
)

// Completion flags (CQE.Flags).
const (
	CQEFBuffer       uint32 = 1 << 0 // the upper 16 bits name the provided buffer used
	CQEFMore         uint32 = 1 << 1 // a multishot request stays armed
	CQEFSockNonempty uint32 = 1 << 2
	CQEFNotif        uint32 = 1 << 3 // a zero-copy send's second completion: the kernel let go of the buffer
	cqeBufferShift          = 16
)

const (
	acceptMultishot = 1 << 0 // SQE.Ioprio of OpAccept
	recvMultishot   = 1 << 1 // SQE.Ioprio of OpRecv
	cancelAll       = 1 << 0 // SQE.OpFlags of OpAsyncCancel
)

const (
	enterGetEvents = 1 << 0
	enterExtArg    = 1 << 3

	sqCQOverflow = 1 << 1
	sqTaskrun    = 1 << 2 // IORING_SQ_TASKRUN: completion work waits for an enter

	cqEventfdDisabled = 1 << 0 // IORING_CQ_EVENTFD_DISABLED in the CQ ring's flags

	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	registerEventfd     = 4
	registerProbe       = 8
	registerEnableRings = 12
	registerPbufRing    = 22
	unregisterPbufRing  = 23
)

// SQE is a submission queue entry (struct io_uring_sqe, 64 bytes).
type SQE struct {
	Opcode      uint8
	Flags       uint8
	Ioprio      uint16
	Fd          int32
	Off         uint64
	Addr        uint64
	Len         uint32
	OpFlags     uint32
	UserData    uint64
	BufIndex    uint16 // buf_index or buf_group
	Personality uint16
	SpliceFdIn  int32
	Addr3       uint64
	_           uint64
}

// CQE is a completion queue entry (struct io_uring_cqe, 16 bytes).
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// More reports whether the multishot request that posted c stays armed.
func (c *CQE) More() bool { return c.Flags&CQEFMore != 0 }

// Buffer returns the provided buffer the completion used, if any.
func (c *CQE) Buffer() (id uint16, ok bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&CQEFBuffer != 0
}

// Err is the completion's error, or nil for a result of zero or more.
func (c *CQE) Err() error {
	if c.Res < 0 {
		return unix.Errno(-c.Res)
	}
	return nil
}

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

// Ring is one io_uring instance with its mapped queues.
type Ring struct {
	fd       int
	flags    uint32
	features uint32

	sqMem, cqMem, sqeMem []byte

	sqHead, sqTail, sqFlags, sqDropped *uint32
	sqMask, sqEntries                  uint32
	sqes                               []SQE
	sqeTail                            uint32 // entries filled (published at the next enter)
	sqeHead                            uint32 // entries handed to the kernel

	cqHead, cqTail, cqOverflow *uint32
	cqFlags                    *uint32
	cqMask, cqEntries          uint32
	cqes                       []CQE

	// Enters counts io_uring_enter calls, for tests and counters.
	Enters uint64
}

// Params chooses a ring's sizes and flags.
type Params struct {
	Entries   uint32 // submission entries (rounded up to a power of two by the kernel)
	CQEntries uint32 // completion entries; 0: twice Entries
	Flags     uint32 // Setup* flags
}

// New sets a ring up. It fails with an error wrapping ErrUnsupported when
// io_uring cannot be used at all (ENOSYS, EPERM: disabled or filtered).
func New(p Params) (*Ring, error) {
	var pr params
	pr.flags = p.Flags
	if p.CQEntries != 0 {
		pr.flags |= SetupCQSize
		pr.cqEntries = p.CQEntries
	}
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(p.Entries), uintptr(unsafe.Pointer(&pr)), 0)
	if e != 0 {
		if e == unix.ENOSYS || e == unix.EPERM || e == unix.EACCES {
			return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnsupported, e)
		}
		return nil, os.NewSyscallError("io_uring_setup", e)
	}
	r := &Ring{fd: int(fd), flags: pr.flags, features: pr.features}
	if err := r.mmap(&pr); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mmap(p *params) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(CQE{})))
	single := p.features&FeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	r.sqMem, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}
	r.cqMem = r.sqMem
	if !single {
		r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			r.cqMem = nil
			return os.NewSyscallError("mmap", err)
		}
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(SQE{}))
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}
	u32 := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail = u32(r.sqMem, p.sqOff.head), u32(r.sqMem, p.sqOff.tail)
	r.sqFlags, r.sqDropped = u32(r.sqMem, p.sqOff.flags), u32(r.sqMem, p.sqOff.dropped)
	r.sqMask, r.sqEntries = *u32(r.sqMem, p.sqOff.ringMask), *u32(r.sqMem, p.sqOff.ringEntries)
	// Entries are always used in ring order: the indirection array is
	// the identity, set once.
	array := unsafe.Slice(u32(r.sqMem, p.sqOff.array), r.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), r.sqEntries)
	r.cqHead, r.cqTail = u32(r.cqMem, p.cqOff.head), u32(r.cqMem, p.cqOff.tail)
	r.cqOverflow = u32(r.cqMem, p.cqOff.overflow)
	if p.cqOff.flags != 0 { // before Linux 5.8 the CQ ring has no flags
		r.cqFlags = u32(r.cqMem, p.cqOff.flags)
	}
	r.cqMask, r.cqEntries = *u32(r.cqMem, p.cqOff.ringMask), *u32(r.cqMem, p.cqOff.ringEntries)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&r.cqMem[p.cqOff.cqes])), r.cqEntries)
	return nil
}

// Close unmaps the queues and closes the ring; the kernel cancels what is
// still in flight.
func (r *Ring) Close() error {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.cqMem != nil && (r.sqMem == nil || &r.cqMem[0] != &r.sqMem[0]) {
		unix.Munmap(r.cqMem)
	}
	if r.sqMem != nil {
		unix.Munmap(r.sqMem)
	}
	r.sqeMem, r.cqMem, r.sqMem = nil, nil, nil
	return unix.Close(r.fd)
}

// Fd is the ring's descriptor.
func (r *Ring) Fd() int { return r.fd }

// Features reports the Feat* bits the kernel set up the ring with.
func (r *Ring) Features() uint32 { return r.features }

// Flags reports the Setup* flags the ring was created with.
func (r *Ring) Flags() uint32 { return r.flags }

// SQEntries and CQEntries are the queues' sizes.
func (r *Ring) SQEntries() uint32 { return r.sqEntries }

// CQEntries is the completion queue's size.
func (r *Ring) CQEntries() uint32 { return r.cqEntries }

// GetSQE returns the next free submission entry, zeroed, or nil when the
// submission queue is full (submit, then ask again).
func (r *Ring) GetSQE() *SQE {
	head := atomic.LoadUint32(r.sqHead)
	if r.sqeTail-head >= r.sqEntries {
		return nil
	}
	sqe := &r.sqes[r.sqeTail&r.sqMask]
	*sqe = SQE{}
	r.sqeTail++
	return sqe
}

// Unsubmitted is the number of entries filled but not yet submitted.
func (r *Ring) Unsubmitted() uint32 { return r.sqeTail - r.sqeHead }

// flushSQ publishes the filled entries and returns how many the next
// enter must submit.
func (r *Ring) flushSQ() uint32 {
	atomic.StoreUint32(r.sqTail, r.sqeTail)
	return r.sqeTail - r.sqeHead
}

// getEventsArg is struct io_uring_getevents_arg.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32
	ts        uint64
}

func (r *Ring) enter(submit, wait uint32, flags uint32, arg unsafe.Pointer, argSize uintptr, block bool) (uint32, error) {
	r.Enters++
	var n uintptr
	var e unix.Errno
	if block {
		n, _, e = unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(submit), uintptr(wait), uintptr(flags), uintptr(arg), argSize)
	} else {
		n, _, e = unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(submit), uintptr(wait), uintptr(flags), uintptr(arg), argSize)
	}
	if e != 0 {
		return 0, e
	}
	return uint32(n), nil
}

// Submit hands the filled entries to the kernel without waiting.
func (r *Ring) Submit() error {
	return r.SubmitAndWait(0, 0)
}

// SubmitAndWait submits the filled entries, posts the completions the
// kernel has ready and, with wait > 0, waits in the same io_uring_enter until at least wait completions are ready or
// timeout passes (timeout <= 0: no limit). An expired or interrupted
// wait is not an error: the caller reaps what there is.
//
// On a ring set up with SetupTaskrunFlag, a call with nothing to submit
// and nothing to wait for makes no system call when the kernel has
// flagged neither completion work nor an overflow for an enter to post:
// what completes meanwhile sets the flag (and, when its signals are on,
// writes the eventfd) for the next call.
func (r *Ring) SubmitAndWait(wait uint32, timeout time.Duration) error {
	submit := r.flushSQ()
	if submit == 0 && wait == 0 && r.flags&SetupTaskrunFlag != 0 &&
		atomic.LoadUint32(r.sqFlags)&(sqTaskrun|sqCQOverflow) == 0 {
		return nil
	}
	return r.submitAndWait(submit, wait, timeout)
}

func (r *Ring) submitAndWait(submit, wait uint32, timeout time.Duration) error {
	// Always with IORING_ENTER_GETEVENTS, even when not waiting: on a
	// ring with deferred task work (SetupDeferTaskrun) that is what
	// posts the completions the kernel has ready.
	var flags uint32 = enterGetEvents
	var arg unsafe.Pointer
	var argSize uintptr
	var ga getEventsArg
	var ts unix.Timespec
	if wait > 0 && timeout > 0 {
		if r.features&FeatExtArg == 0 {
			return fmt.Errorf("%w: the kernel cannot time out a wait (no IORING_FEAT_EXT_ARG)", ErrUnsupported)
		}
		ts = unix.NsecToTimespec(int64(timeout))
		ga.ts = uint64(uintptr(unsafe.Pointer(&ts)))
		arg, argSize = unsafe.Pointer(&ga), unsafe.Sizeof(ga)
		flags |= enterExtArg
	}
	for {
		n, err := r.enter(submit, wait, flags, arg, argSize, wait > 0)
		switch err {
		case nil:
			r.sqeHead += n
			return nil
		case unix.EINTR, unix.ETIME:
			return nil
		case unix.EBUSY, unix.EAGAIN:
			// The completion backlog is full (or the kernel is short of
			// memory): the caller must reap before more is submitted.
			return nil
		default:
			return os.NewSyscallError("io_uring_enter", err)
		}
	}
}

// Enter submits the filled entries and posts the completions the kernel
// has ready, entering the kernel whatever the taskrun flag says (see
// SubmitAndWait).
func (r *Ring) Enter() error {
	return r.submitAndWait(r.flushSQ(), 0, 0)
}

// TaskrunPending reports whether the kernel has flagged completion work
// that waits for an enter (rings set up with SetupTaskrunFlag; false on
// others).
func (r *Ring) TaskrunPending() bool {
	return r.flags&SetupTaskrunFlag != 0 && atomic.LoadUint32(r.sqFlags)&sqTaskrun != 0
}

// Overflowed reports whether completions wait in the kernel's overflow
// list because the completion queue was full when they were posted.
func (r *Ring) Overflowed() bool { return atomic.LoadUint32(r.sqFlags)&sqCQOverflow != 0 }

// Dropped is how many completions the kernel could not post at all (only
// without IORING_FEAT_NODROP, or out of memory).
func (r *Ring) Dropped() uint32 { return atomic.LoadUint32(r.cqOverflow) }

// Reap calls fn for every completion ready in the queue, in order, and
// hands their slots back to the kernel. fn must not keep c. When the
// kernel holds completions back for want of room (overflow), Reap flushes
// them into the queue with one enter and goes on. It returns how many it
// reaped.
func (r *Ring) Reap(fn func(c *CQE)) int {
	n := 0
	for {
		head := atomic.LoadUint32(r.cqHead)
		tail := atomic.LoadUint32(r.cqTail)
		for ; head != tail; head++ {
			fn(&r.cqes[head&r.cqMask])
			n++
		}
		atomic.StoreUint32(r.cqHead, head)
		if !r.Overflowed() {
			return n
		}
		if _, err := r.enter(0, 0, enterGetEvents, nil, 0, false); err != nil && err != unix.EINTR && err != unix.EBUSY {
			return n
		}
	}
}

// Ready is the number of completions waiting in the queue.
func (r *Ring) Ready() uint32 {
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
}

// Enable starts a ring created with SetupRDisabled; with
// SetupSingleIssuer, the calling thread becomes its only submitter.
func (r *Ring) Enable() error {
	return r.register(registerEnableRings, nil, 0)
}

// RegisterEventfd has the kernel signal the eventfd efd when completions
// are posted, and, on a ring with SetupDeferTaskrun, when completion work
// is queued for the next enter while none was: a loop that waits for efd
// to turn readable (in Go's netpoller, say) instead of in io_uring_enter
// then collects it with a non-blocking SubmitAndWait(0, 0). Signals are
// off while SetEventfd(false) says so.
func (r *Ring) RegisterEventfd(efd int) error {
	fd := int32(efd)
	return r.register(registerEventfd, unsafe.Pointer(&fd), 1)
}

// SetEventfd turns the registered eventfd's signals on or off (the CQ
// ring's IORING_CQ_EVENTFD_DISABLED flag, which only this process
// writes). A loop keeps them off while it runs, so that the work it
// collects itself costs no eventfd writes, and turns them on before it
// last looks for completions and waits: what is queued after that look
// signals the eventfd; what was queued before it, the look collects.
func (r *Ring) SetEventfd(on bool) {
	if r.cqFlags == nil {
		return
	}
	f := atomic.LoadUint32(r.cqFlags)
	if on {
		f &^= cqEventfdDisabled
	} else {
		f |= cqEventfdDisabled
	}
	atomic.StoreUint32(r.cqFlags, f)
}

func (r *Ring) register(op uintptr, arg unsafe.Pointer, n uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), n, 0, 0)
	if e != 0 {
		return os.NewSyscallError("io_uring_register", e)
	}
	return nil
}

// Probe is the set of operations the kernel supports.
type Probe struct {
	last uint8
	ok   [256]bool
}

// Supports reports whether op is supported.
func (p *Probe) Supports(op uint8) bool { return p.ok[op] }

// Probe asks the kernel which operations it supports
// (IORING_REGISTER_PROBE).
func (r *Ring) Probe() (*Probe, error) {
	const nops = 256
	type probeOp struct {
		op, resv uint8
		flags    uint16
		resv2    uint32
	}
	var buf struct {
		lastOp, opsLen uint8
		resv           uint16
		resv2          [3]uint32
		ops            [nops]probeOp
	}
	if err := r.register(registerProbe, unsafe.Pointer(&buf), nops); err != nil {
		return nil, err
	}
	p := &Probe{last: buf.lastOp}
	for i := 0; i < int(buf.opsLen) && i < nops; i++ {
		if buf.ops[i].flags&1 != 0 { // IO_URING_OP_SUPPORTED
			p.ok[buf.ops[i].op] = true
		}
	}
	return p, nil
}

// Require returns an error naming the first of ops the kernel lacks.
func (p *Probe) Require(ops ...uint8) error {
	for _, op := range ops {
		if !p.ok[op] {
			return fmt.Errorf("%w: the kernel lacks io_uring operation %d", ErrUnsupported, op)
		}
	}
	return nil
}

// Available reports whether io_uring can be set up here (nil), or why
// not, in an error wrapping ErrUnsupported.
func Available() error {
	r, err := New(Params{Entries: 2})
	if err != nil {
		if !errors.Is(err, ErrUnsupported) {
			err = fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		return err
	}
	defer r.Close()
	if r.features&FeatExtArg == 0 || r.features&FeatNoDrop == 0 {
		return fmt.Errorf("%w: the kernel is too old (needs 5.19 or later)", ErrUnsupported)
	}
	return nil
}
