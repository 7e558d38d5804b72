package engine

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/netpoll"
)

// SendFileNB sends up to n bytes of f from offset off to the non-blocking
// socket fd, for an event loop: with sendfile(2) (scheduler-aware, as the
// disk may be slow) when f has a descriptor, else one chunk read with
// ReadAt (from memory, see http1.File) and written without waiting; the
// caller asks again for the rest. iov is scratch space for the write.
// unix.EAGAIN means the socket is full.
func SendFileNB(fd int, f http1.File, off, n int64, iov *[]unix.Iovec) (int64, error) {
	if ff, ok := f.(http1.FdFile); ok {
		return netpoll.SendFileAll(fd, int(ff.Fd()), off, n)
	}
	bp, chunk, err := ReadChunk(f, off, n)
	if err != nil {
		return 0, err
	}
	m, _, err := netpoll.WritevAllNB(fd, [][]byte{chunk}, iov, false)
	PutChunk(bp)
	return m, err
}

// SendFileNB is engine.SendFileNB for a loop that keeps w: an *os.File
// is sent with the raw or the scheduler-aware sendfile as w chooses (see
// WarmFiles). A nil w always chooses the scheduler-aware call.
func (w *WarmFiles) SendFileNB(fd int, f http1.File, off, n int64, iov *[]unix.Iovec) (int64, error) {
	if of, ok := f.(*os.File); ok && w != nil {
		return w.send(fd, of, off, n)
	}
	return SendFileNB(fd, f, off, n, iov)
}

// WarmFiles remembers, for one event loop (evloop's, uring's),
// which open files it last sent without waiting for the disk, to choose
// how to call sendfile(2). The zero value is ready; not safe for
// concurrent use.
//
// netpoll.SendFileNB enters the kernel without telling Go's scheduler:
// cheaper when the pages are in memory (a send that fills a socket buffer
// runs long enough for the scheduler to hand the loop's P to another
// thread and back), but when they are not (a cold page cache, a network
// file system) the call waits for the disk holding the P, and a garbage
// collection's stop-the-world waits with it. Whether pages are resident
// cannot be asked cheaply (mincore needs a mapping), so the loop uses a
// proxy: a file's first send from this loop, and any send after one that
// went slower than memory would (warmSlow), uses the scheduler-aware
// netpoll.SendFile; a file whose previous send here went at memory speed
// uses the raw call. Hot files are held open and shared by the site's
// open-file cache, so the same *os.File comes back request after request
// and finds its entry; an entry is a hint only, and a wrong one costs a
// scheduler hand-off or one blocking call, never a wrong byte.
type WarmFiles struct {
	ent [64]struct {
		f   *os.File
		hot bool
	}
	// raw and aware are netpoll.SendFileAllNB and netpoll.SendFileAll
	// when nil; tests replace them.
	raw, aware func(dst, src int, off, n int64) (int64, error)
}

// warmSlow: a send is slow, and its file cold, when it took longer than
// this and moved less than a byte per nanosecond (1 GB/s): page-cache
// copies to a socket run faster, disk and network reads slower. A call
// shorter than this holds the P briefly enough whatever its cause (a
// fast SSD, the kernel preempting the thread on a busy machine): a lower
// bound made loopback sends of 128 KiB on a busy 2-CPU machine look cold
// and cost throughput.
const warmSlow = 2 * time.Millisecond

func (w *WarmFiles) send(sock int, f *os.File, off, n int64) (int64, error) {
	fd := int(f.Fd())
	e := &w.ent[fd&(len(w.ent)-1)]
	call := netpoll.SendFileAll
	if e.f == f && e.hot {
		call = netpoll.SendFileAllNB
		if w.raw != nil {
			call = w.raw
		}
	} else if w.aware != nil {
		call = w.aware
	}
	start := time.Now()
	m, err := call(sock, fd, off, n)
	if d := time.Since(start); m > 0 || err == nil {
		e.f, e.hot = f, d < warmSlow || int64(d) < m
	}
	return m, err
}
