//go:build !linux

package loadgen

import "errors"

func processCPU() float64 { return 0 }

var errNoAffinity = errors.New("weft: bench: pinning to CPUs needs Linux")

// PinSelf is Linux-only.
func PinSelf(cpus []int) error { return errNoAffinity }

// PinTree is Linux-only.
func PinTree(pid int, cpus []int) error { return errNoAffinity }

// TreeThreads is Linux-only.
func TreeThreads(pid int) (int, bool) { return 0, false }
