package loadgen

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// processCPU is the user+system CPU seconds this process has used.
func processCPU() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// PinSelf restricts every thread of this process to cpus (threads made
// later inherit the mask of the thread that makes them) and sets
// GOMAXPROCS to their number, so the client uses exactly those cores.
func PinSelf(cpus []int) error {
	if err := PinTree(os.Getpid(), cpus); err != nil {
		return err
	}
	runtime.GOMAXPROCS(len(cpus))
	return nil
}

// PinTree restricts every thread of process pid and of its descendants
// to cpus. It goes over the threads twice, for those started meanwhile by
// a thread not yet pinned.
func PinTree(pid int, cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		if c < 0 || c >= 1024 {
			return fmt.Errorf("weft: bench: no CPU %d", c)
		}
		set.Set(c)
	}
	procs, ok := procTable()
	if !ok {
		return fmt.Errorf("weft: bench: pinning to CPUs needs /proc")
	}
	for range 2 {
		for _, p := range descendants(procs, pid) {
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
			if err != nil {
				continue // exited
			}
			for _, t := range tasks {
				tid, err := strconv.Atoi(t.Name())
				if err != nil {
					continue
				}
				if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
					return fmt.Errorf("weft: bench: pin thread %d to CPUs %v: %w", tid, cpus, os.NewSyscallError("sched_setaffinity", err))
				}
			}
		}
	}
	return nil
}

// TreeThreads counts the threads of process pid and its descendants.
func TreeThreads(pid int) (int, bool) {
	procs, ok := procTable()
	if !ok {
		return 0, false
	}
	n := 0
	for _, p := range descendants(procs, pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				t, _ := strconv.Atoi(strings.TrimSpace(v))
				n += t
			}
		}
	}
	return n, true
}
