package loadgen

import (
	"os/exec"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func affinity(pid int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		return nil, err
	}
	var out []int
	for c := range 1024 {
		if set.IsSet(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// TestPinTree pins a child process's threads to CPU 0.
func TestPinTree(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := PinTree(cmd.Process.Pid, []int{0}); err != nil {
		t.Fatal(err)
	}
	got, err := affinity(cmd.Process.Pid)
	if err != nil || !slices.Equal(got, []int{0}) {
		t.Fatalf("affinity %v, %v; want [0]", got, err)
	}
	if n, ok := TreeThreads(cmd.Process.Pid); !ok || n != 1 {
		t.Errorf("TreeThreads(sleep) = %d, %v; want 1", n, ok)
	}
}
