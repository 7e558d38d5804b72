package uring

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func newRing(t *testing.T, p Params) *Ring {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err) // the engine's own test fails instead
	}
	r, err := New(p)
	if errors.Is(err, unix.EINVAL) && p.Flags&SetupDeferTaskrun != 0 {
		t.Skipf("no deferred task work before Linux 6.1: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// wait submits and waits for at least n completions, reaping them into got.
func wait(t *testing.T, r *Ring, n int, got *[]CQE) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(*got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d completions of %d after 10s", len(*got), n)
		}
		if err := r.SubmitAndWait(1, time.Second); err != nil {
			t.Fatal(err)
		}
		r.Reap(func(c *CQE) { *got = append(*got, *c) })
	}
}

func TestNopRoundTrip(t *testing.T) {
	r := newRing(t, Params{Entries: 4})
	sqe := r.GetSQE()
	sqe.PrepNop(0xfeedface)
	var got []CQE
	wait(t, r, 1, &got)
	if len(got) != 1 || got[0].UserData != 0xfeedface || got[0].Res != 0 {
		t.Fatalf("got %+v, want one completion of user data 0xfeedface, result 0", got)
	}
	if r.Enters != 1 {
		t.Errorf("%d io_uring_enter calls for one submit-and-wait, want 1", r.Enters)
	}
}

// TestWrapAround pushes many times the queues' sizes through a small ring
// in uneven batches: every entry comes back once, in order, after the
// indices have wrapped many times.
func TestWrapAround(t *testing.T) {
	r := newRing(t, Params{Entries: 8})
	const total = 5000
	next, want := uint64(0), uint64(0)
	for want < total {
		batch := 1 + int(next%7) // 1..7 entries per enter
		for i := 0; i < batch && next < total; i++ {
			sqe := r.GetSQE()
			if sqe == nil {
				break
			}
			sqe.PrepNop(next)
			next++
		}
		if err := r.SubmitAndWait(1, time.Second); err != nil {
			t.Fatal(err)
		}
		r.Reap(func(c *CQE) {
			if c.UserData != want {
				t.Fatalf("completion %d arrived as %d", want, c.UserData)
			}
			want++
		})
	}
	if r.Unsubmitted() != 0 {
		t.Errorf("%d entries left unsubmitted", r.Unsubmitted())
	}
}

// TestSQFull: GetSQE refuses once the submission queue is full, and works
// again after a submit.
func TestSQFull(t *testing.T) {
	r := newRing(t, Params{Entries: 4})
	for i := 0; i < int(r.SQEntries()); i++ {
		r.GetSQE().PrepNop(uint64(i))
	}
	if r.GetSQE() != nil {
		t.Fatal("GetSQE handed out an entry past a full queue")
	}
	if err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if r.GetSQE() == nil {
		t.Fatal("GetSQE refused an entry after the queue was submitted")
	}
}

// TestCQOverflow lets more completions arrive than the completion queue
// holds, without reaping: the kernel keeps the surplus (IORING_FEAT_NODROP)
// and flags the overflow; Reap gets every one, in order, none lost.
func TestCQOverflow(t *testing.T) {
	r := newRing(t, Params{Entries: 4, CQEntries: 8})
	if r.Features()&FeatNoDrop == 0 {
		t.Fatal("kernel without IORING_FEAT_NODROP")
	}
	const total = 40 // five times the completion queue
	for i := 0; i < total; i += 4 {
		for j := 0; j < 4; j++ {
			r.GetSQE().PrepNop(uint64(i + j))
		}
		if err := r.Submit(); err != nil {
			t.Fatal(err)
		}
	}
	if r.Ready() != r.CQEntries() {
		t.Errorf("%d completions ready, want a full queue of %d", r.Ready(), r.CQEntries())
	}
	if !r.Overflowed() {
		t.Fatal("the ring does not report the overflow")
	}
	var got []uint64
	r.Reap(func(c *CQE) { got = append(got, c.UserData) })
	if len(got) != total {
		t.Fatalf("reaped %d completions, want %d", len(got), total)
	}
	for i, ud := range got {
		if ud != uint64(i) {
			t.Fatalf("completion %d is %d: order lost in the overflow", i, ud)
		}
	}
	if r.Overflowed() || r.Dropped() != 0 {
		t.Errorf("after reaping: overflowed %v, dropped %d", r.Overflowed(), r.Dropped())
	}
}

func TestProbe(t *testing.T) {
	r := newRing(t, Params{Entries: 2})
	p, err := r.Probe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Require(OpNop, OpAccept, OpRecv, OpSendmsg, OpPollAdd, OpAsyncCancel, OpRead); err != nil {
		t.Fatal(err)
	}
	if p.Supports(255) {
		t.Error("probe claims operation 255")
	}
	if err := p.Require(255); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Require(255) = %v, want ErrUnsupported", err)
	}
}

const (
	udAccept = 1
	udRecv   = 2
	udSend   = 3
	udCancel = 4
)

// TestAcceptRecvSend serves one loopback client through the ring alone: a
// multishot accept takes two connections, a multishot receive with
// provided buffers reads many messages (more than there are buffers, so
// buffers are recycled and the ring wraps) on a non-blocking socket before
// any data has arrived, a sendmsg answers, and a cancel ends the receive.
func TestAcceptRecvSend(t *testing.T) {
	r := newRing(t, Params{Entries: 16})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File() // a duplicate, blocking
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	lfd := int(lf.Fd())
	br, err := r.RegisterBufRing(7, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()

	r.GetSQE().PrepAcceptMultishot(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, udAccept)
	var clients []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	var got []CQE
	wait(t, r, 2, &got)
	var fds []int
	for _, c := range got {
		if c.UserData != udAccept || c.Res < 0 || !c.More() {
			t.Fatalf("accept completion %+v: want a descriptor, still armed", c)
		}
		fds = append(fds, int(c.Res))
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	fd := fds[0]
	cl := clients[0]
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
		t.Error("accepted socket is blocking")
	}

	// Armed before anything was sent: it must wait, not fail with EAGAIN.
	r.GetSQE().PrepRecvMultishot(fd, br.Group(), udRecv)
	if err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	var want bytes.Buffer
	for round := 0; round < 20; round++ {
		msg := bytes.Repeat([]byte{'a' + byte(round)}, 100) // two buffers' worth
		want.Write(msg)
		if _, err := cl.Write(msg); err != nil {
			t.Fatal(err)
		}
		for in.Len() < want.Len() {
			got = got[:0]
			wait(t, r, 1, &got)
			for _, c := range got {
				if c.UserData != udRecv || c.Res <= 0 {
					t.Fatalf("receive completion %+v (%v)", c, c.Err())
				}
				id, ok := c.Buffer()
				if !ok {
					t.Fatalf("receive completion without a buffer: %+v", c)
				}
				in.Write(br.Bytes(id, int(c.Res)))
				br.Recycle(id)
				if !c.More() {
					// The group ran dry before we recycled: arm again.
					r.GetSQE().PrepRecvMultishot(fd, br.Group(), udRecv)
				}
			}
			br.Publish()
		}
	}
	if !bytes.Equal(in.Bytes(), want.Bytes()) {
		t.Fatalf("received %d bytes that differ from the %d sent", in.Len(), want.Len())
	}

	answer := []byte("HTTP/1.1 200 OK\r\n")
	body := []byte("Content-Length: 0\r\n\r\n")
	iov := []unix.Iovec{{Base: &answer[0]}, {Base: &body[0]}}
	iov[0].SetLen(len(answer))
	iov[1].SetLen(len(body))
	var msg unix.Msghdr
	msg.Iov = &iov[0]
	msg.SetIovlen(len(iov))
	r.GetSQE().PrepSendmsg(fd, &msg, 0, udSend)
	r.GetSQE().PrepCancel(udRecv, udCancel)
	got = got[:0]
	wait(t, r, 3, &got) // send, cancel, and the receive's last completion
	seen := map[uint64]CQE{}
	for _, c := range got {
		seen[c.UserData] = c
	}
	if c := seen[udSend]; c.Res != int32(len(answer)+len(body)) {
		t.Errorf("sendmsg result %d (%v), want %d", c.Res, c.Err(), len(answer)+len(body))
	}
	if c := seen[udCancel]; c.Res != 1 {
		t.Errorf("cancel result %d (%v), want 1 request cancelled", c.Res, c.Err())
	}
	if c := seen[udRecv]; c.More() || c.Err() != unix.ECANCELED {
		t.Errorf("receive after cancel: %+v (%v), want ECANCELED, ended", c, c.Err())
	}
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := cl.Read(buf)
	if err != nil || string(buf[:n]) != string(answer)+string(body) {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
}

// TestEventfd: a loop that waits for the registered eventfd instead of in
// io_uring_enter must be woken by every completion it has not collected,
// on a ring with deferred task work (the completion is then only queued
// for the next enter) and on one without; and while SetEventfd(false)
// holds, the kernel must not write the eventfd.
func TestEventfd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint32
	}{
		{"deferred task work", SetupSubmitAll | SetupRDisabled | SetupSingleIssuer | SetupDeferTaskrun},
		{"cooperative task work", SetupSubmitAll | SetupCoopTaskrun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The ring's submitter is this thread: keep the test on it.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			r := newRing(t, Params{Entries: 8, Flags: tc.flags})
			if r.Flags()&SetupRDisabled != 0 {
				if err := r.Enable(); err != nil {
					t.Fatal(err)
				}
			}
			efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(efd)
			if err := r.RegisterEventfd(efd); err != nil {
				t.Fatal(err)
			}
			fds := socketpair(t)
			signalled := func(within time.Duration) bool {
				pfd := []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
				deadline := time.Now().Add(within)
				for {
					n, err := unix.Poll(pfd, int(time.Until(deadline).Milliseconds()))
					if err == unix.EINTR {
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						return false
					}
					var b [8]byte
					if _, err := unix.Read(efd, b[:]); err != nil {
						t.Fatal(err)
					}
					return true
				}
			}
			collect := func(want int) {
				t.Helper()
				var got []CQE
				for deadline := time.Now().Add(5 * time.Second); len(got) < want && time.Now().Before(deadline); {
					if err := r.SubmitAndWait(0, 0); err != nil {
						t.Fatal(err)
					}
					r.Reap(func(c *CQE) { got = append(got, *c) })
				}
				if len(got) != want || got[0].UserData != udRecv || got[0].Res != 1 {
					t.Fatalf("collected %+v, want one receive of 1 byte", got)
				}
			}
			buf := make([]byte, 16)

			// Off: the receive completes (its work queued or its CQE
			// posted) without a write to the eventfd.
			r.SetEventfd(false)
			r.GetSQE().PrepRecv(fds[0], buf, udRecv)
			if err := r.SubmitAndWait(0, 0); err != nil { // armed, waiting for data
				t.Fatal(err)
			}
			unix.Write(fds[1], []byte("x"))
			if signalled(100 * time.Millisecond) {
				t.Fatal("eventfd written while its signals were off")
			}
			collect(1)

			// On: armed, then waited for on the eventfd alone.
			r.GetSQE().PrepRecv(fds[0], buf, udRecv)
			if err := r.SubmitAndWait(0, 0); err != nil {
				t.Fatal(err)
			}
			r.SetEventfd(true)
			go func() {
				time.Sleep(20 * time.Millisecond)
				unix.Write(fds[1], []byte("y"))
			}()
			if !signalled(5 * time.Second) {
				t.Fatal("eventfd not written within 5s of the receive's data")
			}
			collect(1)
		})
	}
}

// TestTaskrunFlagSkipsIdleEnter: on a ring with deferred task work and
// SetupTaskrunFlag, SubmitAndWait(0, 0) with nothing to submit makes no
// system call while the kernel has flagged no completion work, and does
// make one (posting the completion) once data has arrived for an armed
// receive: the flag, not a guess, decides.
func TestTaskrunFlagSkipsIdleEnter(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newRing(t, Params{Entries: 8, Flags: SetupSubmitAll | SetupRDisabled | SetupSingleIssuer | SetupDeferTaskrun | SetupTaskrunFlag})
	if err := r.Enable(); err != nil {
		t.Fatal(err)
	}
	fds := socketpair(t)
	buf := make([]byte, 16)
	r.GetSQE().PrepRecv(fds[0], buf, udRecv)
	before := r.Enters
	if err := r.SubmitAndWait(0, 0); err != nil { // armed: nothing to read yet
		t.Fatal(err)
	}
	if r.Enters != before+1 {
		t.Fatalf("submitting took %d enters, want 1", r.Enters-before)
	}
	before = r.Enters
	for range 3 {
		if err := r.SubmitAndWait(0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if r.Enters != before {
		t.Fatalf("%d enters with nothing to submit and no completion work, want 0", r.Enters-before)
	}
	if n := r.Reap(func(*CQE) {}); n != 0 {
		t.Fatalf("%d completions before any data", n)
	}
	if r.TaskrunPending() {
		t.Fatal("completion work flagged before any data")
	}
	// Enter enters whatever the flag says.
	if err := r.Enter(); err != nil {
		t.Fatal(err)
	}
	if r.Enters != before+1 {
		t.Fatalf("Enter made %d enters, want 1", r.Enters-before)
	}
	before = r.Enters
	unix.Write(fds[1], []byte("x"))
	// On a Unix socket the write queues the receive's completion work
	// at once (the receiver's wake-up runs in the writer's call).
	if !r.TaskrunPending() {
		t.Fatal("data arrived for an armed receive, and no completion work is flagged")
	}
	var got []CQE
	for deadline := time.Now().Add(5 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		if err := r.SubmitAndWait(0, 0); err != nil {
			t.Fatal(err)
		}
		r.Reap(func(c *CQE) { got = append(got, *c) })
	}
	if len(got) != 1 || got[0].UserData != udRecv || got[0].Res != 1 {
		t.Fatalf("collected %+v, want one receive of 1 byte", got)
	}
	if r.Enters == before {
		t.Fatal("the completion was posted without an enter: the flag was not needed to find it")
	}
	// Run, the work is gone and so is the flag: idle again, no enter.
	before = r.Enters
	if err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	if r.Enters != before {
		t.Fatal("an enter with the completion work already run")
	}
}

// socketpair returns a connected pair of non-blocking Unix stream
// sockets, closed at the test's end.
func socketpair(t *testing.T) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return fds
}

// TestSendZC: a zero-copy send over TCP posts its result (all the bytes,
// CQEFMore set) and then a notification (CQEFNotif, not CQEFMore) once
// the kernel has let go of the buffer, and the peer reads what was sent.
// The listener is plain TCP: a socket accepted from an MPTCP listener (Go's
// default since 1.24), even one that fell back to TCP, is refused with
// EOPNOTSUPP (Linux 6.18), as the kernel marks only TCP sockets as able.
func TestSendZC(t *testing.T) {
	r := newRing(t, Params{Entries: 4})
	if p, err := r.Probe(); err != nil || !p.Supports(OpSendZC) {
		t.Skipf("no IORING_OP_SEND_ZC here (before Linux 6.0): %v", err)
	}
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	f, err := sc.(*net.TCPConn).File() // a duplicate, blocking
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	r.GetSQE().PrepSendZC(int(f.Fd()), out, 0, udSend)
	read := make(chan []byte, 1)
	go func() {
		in := make([]byte, len(out))
		cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _ := io.ReadFull(cl, in)
		read <- in[:n]
	}()
	var got []CQE
	wait(t, r, 2, &got)
	if len(got) != 2 || got[0].UserData != udSend || got[1].UserData != udSend {
		t.Fatalf("completions %+v, want two of the send", got)
	}
	if c := got[0]; c.Res != int32(len(out)) || !c.More() || c.Flags&CQEFNotif != 0 {
		t.Errorf("first completion %+v (%v): want all %d bytes sent, more to come", c, c.Err(), len(out))
	}
	if c := got[1]; c.Flags&CQEFNotif == 0 || c.More() {
		t.Errorf("second completion %+v: want the notification, the last", c)
	}
	if in := <-read; !bytes.Equal(in, out) {
		t.Fatalf("peer read %d bytes that differ from the %d sent", len(in), len(out))
	}
}
