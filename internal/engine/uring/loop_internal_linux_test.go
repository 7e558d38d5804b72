package uring

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	iou "github.com/weft-server/weft/internal/netpoll/uring"
)

// TestRunFailingReleasesBuffers: a loop whose ring refuses its eventfd
// (here: one is registered already) gives up with ErrUnsupported, and
// hands back the provided buffers it had registered (2 MiB a loop) and
// its descriptors: the process goes on, perhaps with another engine.
func TestRunFailingReleasesBuffers(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	sh := &shared{}
	l, err := newLoop(sh)
	if err != nil {
		t.Fatal(err)
	}
	other, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)
	if err := l.ring.RegisterEventfd(other); err != nil {
		t.Fatalf("registering an eventfd first: %v", err)
	}
	if err := l.run(context.Background()); !errors.Is(err, iou.ErrUnsupported) {
		t.Fatalf("run: %v, want ErrUnsupported", err)
	}
	if l.bufs == nil {
		t.Fatal("run failed before it registered its buffers: the test shows nothing")
	}
	// The buffers' memory must be unmapped.
	addr := uint64(uintptr(unsafe.Pointer(&l.bufs.Bytes(0, 1)[0])))
	if mapped(t, addr) {
		t.Errorf("the loop's provided buffers are still mapped after run failed")
	}
	if sh.accepting.Load() != 0 {
		t.Errorf("%d loops still counted as accepting", sh.accepting.Load())
	}
}

// mapped reports whether addr lies in a mapping of this process.
func mapped(t *testing.T, addr uint64) bool {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		lo, rest, ok := strings.Cut(line, "-")
		hi, _, _ := strings.Cut(rest, " ")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		z, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && a <= addr && addr < z {
			return true
		}
	}
	return false
}

// TestParkSeesWorkQueuedBefore: completion work the kernel queued while
// the eventfd's signals were off (data for an armed receive) wrote no
// eventfd, so park must find it in its last look (on a ring with the
// taskrun flag: through the flag) and return at once, not wait for the
// sweep. The loop's ring must have the flag where it has deferred task
// work.
func TestParkSeesWorkQueuedBefore(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	runtime.LockOSThread() // the ring's single issuer
	defer runtime.UnlockOSThread()
	l, err := newLoop(&shared{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.free()
	if f := l.ring.Flags(); f&iou.SetupDeferTaskrun != 0 && f&iou.SetupTaskrunFlag == 0 {
		t.Fatal("the loop's ring defers task work without the taskrun flag")
	}
	if l.ring.Flags()&iou.SetupRDisabled != 0 {
		if err := l.ring.Enable(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.ring.RegisterEventfd(l.efd); err != nil {
		t.Fatal(err)
	}
	l.ring.SetEventfd(false)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	buf := make([]byte, 16)
	l.ring.GetSQE().PrepRecv(fds[0], buf, ud(1, opRecv))
	if err := l.ring.Submit(); err != nil {
		t.Fatal(err)
	}
	unix.Write(fds[1], []byte("x")) // queued while the signals are off
	l.sweepAt = time.Now().Add(10 * time.Second)
	began := time.Now()
	if err := l.park(); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited > 5*time.Second {
		t.Fatalf("park waited %v for the sweep with a completion queued before it", waited)
	}
	if len(l.batch) != 1 || l.batch[0].UserData != ud(1, opRecv) || l.batch[0].Res != 1 {
		t.Fatalf("park collected %+v, want the receive of 1 byte", l.batch)
	}
}
