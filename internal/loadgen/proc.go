package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// TreeCPU returns the user+system CPU seconds used so far by process pid
// and its descendants, read from /proc; ok is false where /proc is
// missing.
func TreeCPU(pid int) (secs float64, ok bool) {
	procs, ok := procTable()
	if !ok {
		return 0, false
	}
	for _, p := range descendants(procs, pid) {
		secs += procs[p].cpu
	}
	return secs, true
}

// TreeRSS returns the resident memory, in bytes, of process pid and its
// descendants, read from /proc.
func TreeRSS(pid int) (int64, bool) {
	procs, ok := procTable()
	if !ok {
		return 0, false
	}
	var total int64
	for _, p := range descendants(procs, pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		pages, _ := strconv.ParseInt(f[1], 10, 64)
		total += pages * int64(os.Getpagesize())
	}
	return total, true
}

type procInfo struct {
	ppid int
	cpu  float64
}

func procTable() (map[int]procInfo, bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	procs := make(map[int]procInfo)
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15): comm may hold
		// spaces, so fields are counted after the last ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		procs[p] = procInfo{ppid, (ut + st) / 100} // USER_HZ is 100 on Linux
	}
	return procs, true
}

func descendants(procs map[int]procInfo, pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		for p, info := range procs {
			if info.ppid == out[i] {
				out = append(out, p)
			}
		}
	}
	return out
}

// Smaps is a process tree's memory from /proc/PID/smaps_rollup, in bytes.
type Smaps struct {
	Rss     int64 // resident pages, shared ones counted in every process
	Pss     int64 // proportional share: a page shared by k processes counts 1/k
	Private int64 // pages mapped by one process only (Private_Clean + Private_Dirty)
}

// TreeSmaps sums smaps_rollup over process pid and its descendants; ok is
// false where /proc or smaps_rollup (Linux 4.14) is missing.
func TreeSmaps(pid int) (s Smaps, ok bool) {
	procs, ok := procTable()
	if !ok {
		return Smaps{}, false
	}
	for _, p := range descendants(procs, pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			if p == pid {
				return Smaps{}, false
			}
			continue
		}
		s.add(parseSmapsRollup(b))
	}
	return s, true
}

func (s *Smaps) add(o Smaps) {
	s.Rss += o.Rss
	s.Pss += o.Pss
	s.Private += o.Private
}

// parseSmapsRollup reads the "Name: N kB" lines of smaps_rollup.
func parseSmapsRollup(b []byte) Smaps {
	var s Smaps
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "Rss":
			s.Rss += kb << 10
		case "Pss":
			s.Pss += kb << 10
		case "Private_Clean", "Private_Dirty":
			s.Private += kb << 10
		}
	}
	return s
}

// ParseCPUList reads a CPU list such as "0-1,3" (as taskset -c and
// /sys/devices/system/cpu/online write them).
func ParseCPUList(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || b >= 1024 {
			return nil, fmt.Errorf("weft: bench: bad CPU list %q (want e.g. 0-1,3)", s)
		}
		for c := a; c <= b; c++ {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}
