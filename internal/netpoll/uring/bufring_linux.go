package uring

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING): a group
// of equal buffers from which the kernel picks one per multishot receive
// completion, so that a connection holds no buffer while it waits for
// input. The buffers live outside Go's heap (mmap), as the kernel writes
// them whenever data arrives. Give each buffer back with Recycle (the
// kernel sees returned buffers at the next Publish).
type BufRing struct {
	r       *Ring
	group   uint16
	mem     []byte // the ring of struct io_uring_buf
	data    []byte // the buffers
	size    int
	entries uint16
	mask    uint16
	word    *uint32 // the 32 bits holding the ring's tail (bytes 14-15) and the first entry's id (12-13)
	local   uint16  // tail as recycled, published by Publish
	public  uint16  // tail as the kernel sees it
}

// bufReg is struct io_uring_buf_reg.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

type ringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// RegisterBufRing registers a group of n buffers (a power of two, at most
// 32768) of size bytes each, all of them given to the kernel.
func (r *Ring) RegisterBufRing(group uint16, n, size int) (*BufRing, error) {
	if n <= 0 || n&(n-1) != 0 || n > 1<<15 {
		return nil, fmt.Errorf("weft: buffer ring size %d is not a power of two up to 32768", n)
	}
	const prot, flags = unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS
	mem, err := unix.Mmap(-1, 0, n*int(unsafe.Sizeof(ringBuf{})), prot, flags)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	data, err := unix.Mmap(-1, 0, n*size, prot, flags)
	if err != nil {
		unix.Munmap(mem)
		return nil, os.NewSyscallError("mmap", err)
	}
	b := &BufRing{r: r, group: group, mem: mem, data: data, size: size, entries: uint16(n), mask: uint16(n - 1)}
	b.word = (*uint32)(unsafe.Pointer(&mem[12]))
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), ringEntries: uint32(n), bgid: group}
	if err := r.register(registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		unix.Munmap(data)
		unix.Munmap(mem)
		return nil, err
	}
	for i := 0; i < n; i++ {
		b.Recycle(uint16(i))
	}
	b.Publish()
	return b, nil
}

// Group is the buffer group's id, for PrepRecvMultishot.
func (b *BufRing) Group() uint16 { return b.group }

// Size is the size of each buffer.
func (b *BufRing) Size() int { return b.size }

// Bytes returns buffer id's first n bytes, as a completion filled them.
// They stay valid until the buffer is recycled.
func (b *BufRing) Bytes(id uint16, n int) []byte {
	off := int(id) * b.size
	return b.data[off : off+n : off+b.size]
}

// Recycle gives buffer id back to the kernel (at the next Publish).
func (b *BufRing) Recycle(id uint16) {
	e := (*ringBuf)(unsafe.Pointer(&b.mem[int(b.local&b.mask)*int(unsafe.Sizeof(ringBuf{}))]))
	// The tail shares the first entry's last two bytes: write the
	// entry's fields, never the whole struct.
	e.addr = uint64(uintptr(unsafe.Pointer(&b.data[int(id)*b.size])))
	e.len = uint32(b.size)
	e.bid = id
	b.local++
}

// Publish makes the recycled buffers visible to the kernel.
func (b *BufRing) Publish() {
	if b.public == b.local {
		return
	}
	b.public = b.local
	// sync/atomic has no 16-bit store: store the aligned 32-bit word that
	// holds the tail, keeping the first entry's id (only this side writes
	// either half).
	w := atomic.LoadUint32(b.word)
	var tmp [4]byte
	*(*uint32)(unsafe.Pointer(&tmp)) = w
	*(*uint16)(unsafe.Pointer(&tmp[2])) = b.local
	atomic.StoreUint32(b.word, *(*uint32)(unsafe.Pointer(&tmp)))
}

// Close unregisters the group and frees its memory. The ring must have no
// receive armed on it.
func (b *BufRing) Close() error {
	reg := bufReg{bgid: b.group}
	err := b.r.register(unregisterPbufRing, unsafe.Pointer(&reg), 1)
	unix.Munmap(b.data)
	unix.Munmap(b.mem)
	return err
}

// Free unmaps the group's memory without unregistering it, once its ring
// is closed.
func (b *BufRing) Free() {
	unix.Munmap(b.data)
	unix.Munmap(b.mem)
}
