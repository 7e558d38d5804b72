//go:build linux

// Command floor is the cheapest program that can stand in for a server
// under bench/run's small-file cases: it answers every request it receives
// (every "\r\n\r\n") with the same bytes, a fixed HTTP/1.1 head with
// nginx's fields and one file's content read at start, and does nothing
// else: no parsing, no file system, no timeouts, no limits. It is not a
// web server; it is the floor of what a web server built this way can
// cost on this kernel, the system calls and TCP work that answering
// takes, in either model (a server could still save a little below it
// with what the floor does not use either: registered descriptors and
// buffers):
//
//	-mode epoll  one thread, level-triggered epoll, one read and one
//	             write per ready connection (the readiness model's floor)
//	-mode uring  one ring (single issuer, deferred task work): multishot
//	             accept, a multishot receive per connection into a
//	             provided-buffer ring, one send per batch of requests,
//	             every operation of a turn in one io_uring_enter (the
//	             completion model's floor); with -zc its sends are
//	             zero-copy (IORING_OP_SEND_ZC), to measure them
//
// Its system calls bypass Go's scheduler (raw calls, waits blocked in the
// kernel), as a C server's do: the one thread has nothing else to run,
// so the floor pays none of the runtime's costs that weft's loops pay.
//
// A server's requests per CPU-second divided by the floor's, in the same
// run, is the share of the kernel's minimum it reaches: the ceiling on
// how far ahead of any other server any server can be.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	iou "github.com/weft-server/weft/internal/netpoll/uring"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "IPv4 `host:port` to listen on")
	file := flag.String("file", "", "the file whose content every answer carries")
	mode := flag.String("mode", "epoll", "epoll or uring")
	zc := flag.Bool("zc", false, "uring: send with IORING_OP_SEND_ZC (zero-copy) instead of IORING_OP_SEND")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		fatal(err)
	}
	fi, err := os.Stat(*file)
	if err != nil {
		fatal(err)
	}
	// nginx's fields, so that the bytes on the wire are a server's (its
	// Date is the start's: a server formats one a second, not per answer).
	const httpTime = "Mon, 02 Jan 2006 15:04:05 GMT"
	head := "HTTP/1.1 200 OK\r\nServer: floor\r\nDate: " + time.Now().UTC().Format(httpTime) +
		"\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nLast-Modified: " + fi.ModTime().UTC().Format(httpTime) +
		"\r\nConnection: keep-alive\r\nETag: \"" + strconv.FormatInt(fi.ModTime().Unix(), 16) + "-" + strconv.FormatInt(fi.Size(), 16) +
		"\"\r\nAccept-Ranges: bytes\r\n\r\n"
	answer := append([]byte(head), body...)
	lfd, err := listen(*addr)
	if err != nil {
		fatal(err)
	}
	runtime.LockOSThread()
	switch *mode {
	case "epoll":
		err = serveEpoll(lfd, answer)
	case "uring":
		err = serveUring(lfd, answer, *zc)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	fatal(err)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}

// listen opens a non-blocking TCP listener on an IPv4 address.
func listen(addr string) (int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return -1, fmt.Errorf("address %q: want IPv4 host:port", addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return -1, err
	}
	return fd, unix.Listen(fd, 4096)
}

// ends counts the request ends ("\r\n\r\n") in p, carrying the matcher's
// state (how many bytes of the end were seen last) across reads.
func ends(p []byte, state *uint8) int {
	n := 0
	s := *state
	for _, c := range p {
		switch {
		case c == '\r' && (s == 0 || s == 2):
			s++
		case c == '\n' && (s == 1 || s == 3):
			s++
			if s == 4 {
				n++
				s = 0
			}
		case c == '\r':
			s = 1
		default:
			s = 0
		}
	}
	*state = s
	return n
}

// answers holds the bytes of k answers in a row, made once for each k
// that pipelining asks for.
type answers struct {
	one  []byte
	made map[int][]byte
}

func (a *answers) of(k int) []byte {
	if k == 1 {
		return a.one
	}
	if b, ok := a.made[k]; ok {
		return b
	}
	b := bytes.Repeat(a.one, k)
	a.made[k] = b
	return b
}

func serveEpoll(lfd int, answer []byte) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}); err != nil {
		return err
	}
	ans := &answers{one: answer, made: map[int][]byte{}}
	state := map[int32]*uint8{}
	events := make([]unix.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), ^uintptr(0), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		n := int(r)
		for _, ev := range events[:n] {
			if int(ev.Fd) == lfd {
				for {
					fd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
					if err != nil {
						break
					}
					unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					state[int32(fd)] = new(uint8)
					unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)})
				}
				continue
			}
			fd := int(ev.Fd)
			r, err := rawIO(unix.SYS_READ, fd, buf)
			if err == unix.EAGAIN {
				continue
			}
			if r <= 0 {
				delete(state, ev.Fd)
				unix.Close(fd) // leaves the epoll set with its last descriptor
				continue
			}
			if k := ends(buf[:r], state[ev.Fd]); k > 0 {
				if err := writeAll(fd, ans.of(k)); err != nil {
					delete(state, ev.Fd)
					unix.Close(fd)
				}
			}
		}
	}
}

// rawIO reads or writes without telling Go's scheduler, as a C server's
// call would: the sockets are non-blocking, and the floor's one thread
// has nothing else to schedule.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// writeAll writes p, waiting for room when the socket is full (never at
// the sizes the floor is for).
func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := rawIO(unix.SYS_WRITE, fd, p)
		if err == unix.EAGAIN {
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1)
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

const enterGetevents = 1 // IORING_ENTER_GETEVENTS

const (
	opAccept = iota
	opRecv
	opSend
)

func serveUring(lfd int, answer []byte, zc bool) error {
	if err := iou.Available(); err != nil {
		return err
	}
	r, err := iou.New(iou.Params{Entries: 4096, CQEntries: 16384,
		Flags: iou.SetupSubmitAll | iou.SetupSingleIssuer | iou.SetupDeferTaskrun})
	if err != nil {
		return err
	}
	bufs, err := r.RegisterBufRing(0, 1024, 2048)
	if err != nil {
		return err
	}
	ans := &answers{one: answer, made: map[int][]byte{}}
	// A connection is tagged with its descriptor and a generation, so
	// that a completion of a connection gone (its descriptor reused) is
	// not taken for the new one's.
	type conn struct {
		gen   uint32
		match uint8
	}
	conns := map[int]*conn{}
	var gens uint32
	sqe := func() *iou.SQE {
		for {
			if e := r.GetSQE(); e != nil {
				return e
			}
			if err := r.Submit(); err != nil {
				fatal(err)
			}
		}
	}
	ud := func(fd int, gen uint32, op int) uint64 { return uint64(gen)<<32 | uint64(fd)<<8 | uint64(op) }
	sqe().PrepAcceptMultishot(lfd, unix.SOCK_CLOEXEC, ud(lfd, 0, opAccept))
	for {
		// Submit and collect without waiting; with nothing collected,
		// wait in io_uring_enter itself, the thread blocked in the
		// kernel as a C server's would be (Go's scheduler not told:
		// the floor's one thread has nothing else to run).
		if err := r.Submit(); err != nil {
			return err
		}
		if r.Ready() == 0 {
			_, _, e := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.Fd()), 0, 1, enterGetevents, 0, 0)
			if e != 0 && e != unix.EINTR {
				return e
			}
		}
		r.Reap(func(c *iou.CQE) {
			fd, gen, op := int(c.UserData>>8&0xffffff), uint32(c.UserData>>32), int(c.UserData&0xff)
			if op == opAccept {
				if c.Res >= 0 {
					cfd := int(c.Res)
					unix.SetsockoptInt(cfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					gens++
					conns[cfd] = &conn{gen: gens}
					sqe().PrepRecvMultishot(cfd, bufs.Group(), ud(cfd, gens, opRecv))
				}
				if !c.More() {
					sqe().PrepAcceptMultishot(lfd, unix.SOCK_CLOEXEC, ud(lfd, 0, opAccept))
				}
				return
			}
			cn := conns[fd]
			if cn != nil && cn.gen != gen {
				cn = nil // a completion of the descriptor's earlier connection
			}
			switch op {
			case opRecv:
				id, has := c.Buffer()
				if c.Res > 0 && has && cn != nil {
					if k := ends(bufs.Bytes(id, int(c.Res)), &cn.match); k > 0 && zc {
						sqe().PrepSendZC(fd, ans.of(k), unix.MSG_WAITALL, ud(fd, gen, opSend))
					} else if k > 0 {
						sqe().PrepSend(fd, ans.of(k), unix.MSG_WAITALL, ud(fd, gen, opSend))
					}
				}
				if has {
					bufs.Recycle(id)
				}
				switch {
				case cn == nil:
				case c.Res == 0 || (c.Res < 0 && c.Res != -int32(unix.ENOBUFS)):
					// The peer closed, or the receive failed (it
					// is over): close.
					delete(conns, fd)
					unix.Close(fd)
				case !c.More():
					sqe().PrepRecvMultishot(fd, bufs.Group(), ud(fd, gen, opRecv))
				}
			case opSend:
				// (A zero-copy send's notification, its second
				// completion, has a result of 0.)
				if c.Res < 0 && cn != nil {
					if zc && c.Res == -int32(unix.EOPNOTSUPP) {
						fatal(fmt.Errorf("zero-copy send on an accepted socket: %w", unix.EOPNOTSUPP))
					}
					// The receive still holds the socket: end
					// it, and close when it has ended.
					unix.Shutdown(fd, unix.SHUT_RDWR)
				}
			}
		})
		bufs.Publish()
	}
}
