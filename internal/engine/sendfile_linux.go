package engine

import (
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
