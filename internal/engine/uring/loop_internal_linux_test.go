package uring

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
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
