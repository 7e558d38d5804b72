package thread

import (
	"runtime"
	"sync"
	"time"
)

// A connection's thread runs Go code between its blocking system calls,
// and Go code needs a P. With fewer Ps than busy threads, a thread back
// from read(2) sleeps until another thread hands it a P, and the Ps pass
// from thread to thread in a convoy that the kernel's scheduler never
// sees: 1 KiB at 64 connections with one CPU and GOMAXPROCS=1 kept the
// CPU half idle at 27k req/s, p99 650 ms; with a P per thread the same
// run made 97k req/s, p99 3 ms. So, as pthreads would, the engine lets
// every connection thread run whenever the kernel schedules it: it keeps
// GOMAXPROCS at or above the number of connection threads, up to
// maxProcs.
const (
	// maxProcs caps the Ps: each costs memory (30-40 KiB of RSS here) and a
	// garbage collector worker. Past it, threads share Ps again.
	maxProcs = 256
	// shrinkEvery is how often the P count may fall back to what the
	// busiest moment since the last check needed: resizing stops the
	// world, so it must not follow every connection's open and close.
	shrinkEvery = time.Second
)

// procSizer sizes GOMAXPROCS for the thread engines serving in this
// process (tests run several at once): it grows the P count at once when
// connection threads outnumber Ps, shrinks it lazily, and restores it when
// the last engine stops.
type procSizer struct {
	set func(n int) int // runtime.GOMAXPROCS; replaced in tests

	mu      sync.Mutex
	users   int // engines serving
	base    int // GOMAXPROCS before the first of them started
	cur     int
	live    int // connection threads alive
	peak    int // most alive since the last shrink check
	checked time.Time
}

var procs = procSizer{set: runtime.GOMAXPROCS}

func (p *procSizer) start(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == 0 {
		p.base = p.set(0)
		p.cur, p.live, p.peak, p.checked = p.base, 0, 0, now
	}
	p.users++
}

func (p *procSizer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users--
	if p.users == 0 && p.cur != p.base {
		p.set(p.base)
		p.cur = p.base
	}
}

func (p *procSizer) threadStarted() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live++
	p.peak = max(p.peak, p.live)
	if p.live > p.cur && p.cur < maxProcs {
		p.resize(p.sizeFor(p.live))
	}
}

func (p *procSizer) threadEnded() {
	p.mu.Lock()
	p.live--
	p.mu.Unlock()
}

// tick shrinks the P count, at most every shrinkEvery, to what the peak
// since the last check needed. Accept loops call it often.
func (p *procSizer) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.checked) < shrinkEvery {
		return
	}
	if n := p.sizeFor(p.peak); n < p.cur {
		p.resize(n)
	}
	p.peak, p.checked = p.live, now
}

// sizeFor is the P count for n threads: base doubled until it covers n
// (so that a rising load resizes a few times, not at every connection),
// at most maxProcs, never below base.
func (p *procSizer) sizeFor(n int) int {
	s := p.base
	for s < n && s < maxProcs {
		s *= 2
	}
	return max(p.base, min(s, maxProcs))
}

func (p *procSizer) resize(n int) {
	p.set(n)
	p.cur = n
}
