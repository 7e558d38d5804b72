package loadgen

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weft-server/weft/internal/report"
)

// Workload is one kind of load of a sweep.
type Workload struct {
	Name  string
	Desc  string
	paths func() []string // relative to the server's prefix, without a leading slash
	mode  Mode
	depth int
	// idle: the point's connection count is the number of idle
	// connections; idleLoaders connections load the server meanwhile.
	idle bool
}

// idleLoaders is how many connections load the server in the "idle"
// workload while the point's connections sit idle.
const idleLoaders = 16

// Files the workloads request, written by WriteFiles.
const (
	smallFile = "weft-bench-small.html" // 1 KiB
	// ProbeFile is a file every workload server must serve (a check).
	ProbeFile = smallFile
	midFile   = "weft-bench-128k.bin"
	bigFile   = "weft-bench-10m.bin"
	manyDir   = "weft-bench-files" // 1,000 files of 4 KiB
	manyCount = 1000
)

// Workloads are the sweep's loads, in the order they are run.
var Workloads = []Workload{
	{Name: "small", Desc: "1 KiB file (cached), keep-alive", paths: one(smallFile)},
	{Name: "128k", Desc: "128 KiB file, keep-alive", paths: one(midFile)},
	{Name: "10m", Desc: "10 MiB file, keep-alive", paths: one(bigFile)},
	{Name: "files", Desc: "1,000 files of 4 KiB in random order, keep-alive", paths: manyPaths},
	{Name: "conn", Desc: "1 KiB file, a new connection per request", paths: one(smallFile), mode: ConnPerRequest},
	{Name: "pipeline", Desc: "1 KiB file, 16 requests pipelined per connection", paths: one(smallFile), mode: Pipeline, depth: 16},
	{Name: "idle", Desc: fmt.Sprintf("1 KiB file on %d keep-alive connections while N idle connections are held open", idleLoaders), paths: one(smallFile), idle: true},
}

// WorkloadNames lists the names of Workloads.
func WorkloadNames() []string {
	var out []string
	for _, w := range Workloads {
		out = append(out, w.Name)
	}
	return out
}

// FindWorkload returns the workload named name.
func FindWorkload(name string) (Workload, bool) {
	for _, w := range Workloads {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

func one(name string) func() []string { return func() []string { return []string{name} } }

// manyPaths is the 1,000 files, shuffled, 4,000 requests long, so each
// connection (starting at its own offset) goes over them in random order.
func manyPaths() []string {
	out := make([]string, 0, 4*manyCount)
	for range 4 {
		for _, i := range mrand.Perm(manyCount) {
			out = append(out, fmt.Sprintf("%s/%04d.html", manyDir, i))
		}
	}
	return out
}

// WriteFiles writes the files workloads ws request (and ProbeFile) into
// dir, made if missing; files already there with the right size are kept.
func WriteFiles(dir string, ws []Workload) error {
	want := map[string]bool{ProbeFile: true}
	for _, w := range ws {
		for _, p := range w.paths() {
			want[p] = true
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, manyDir), 0o755); err != nil {
		return err
	}
	for name := range want {
		size := 4 << 10 // the many files
		switch name {
		case smallFile:
			size = 1 << 10
		case midFile:
			size = 128 << 10
		case bigFile:
			size = 10 << 20
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if fi, err := os.Stat(p); err == nil && fi.Size() == int64(size) {
			continue
		}
		b := make([]byte, size)
		if strings.HasSuffix(name, ".html") {
			for i := range b {
				b[i] = 'a' + byte(i%26)
			}
		} else {
			rand.Read(b) // incompressible
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Server is a running server to load.
type Server struct {
	Addr   string // host:port to dial
	Host   string // Host header
	Prefix string // URL path the files are under, ending in "/"
	PID    int    // its process, for CPU and memory (0: unknown)
}

// Target is a server the sweep measures.
type Target struct {
	Name string
	// Start brings the server up (or checks the running one); stop ends
	// what Start began. Sweep calls it once per workload.
	Start func(ctx context.Context) (s Server, stop func(), err error)
}

// SweepConfig is a grid of points.
type SweepConfig struct {
	Targets     []Target
	Workloads   []Workload
	Conns       []int
	Duration    time.Duration // window per point
	Warmup      time.Duration // load before each window, not measured
	Rate        float64       // open loop, for every workload but pipeline
	ServerCPUs  []int         // pin the servers' process trees here (none: no pinning)
	DialTimeout time.Duration
	// Progress, when set, is told before each point; OnPoint after.
	Progress func(done, total int, target, workload string, conns int, left time.Duration)
	OnPoint  func(*report.Point)
}

// Points is the number of points the sweep measures.
func (c *SweepConfig) Points() int { return len(c.Targets) * len(c.Workloads) * len(c.Conns) }

// Sweep measures every target, one at a time, at every point of the grid,
// starting the target afresh for each workload. A target that cannot
// start gives points with a Failure, and the sweep goes on.
func Sweep(ctx context.Context, cfg SweepConfig) ([]report.Point, error) {
	var out []report.Point
	total, done := cfg.Points(), 0
	began := time.Now()
	emit := func(p report.Point) {
		done++
		out = append(out, p)
		if cfg.OnPoint != nil {
			cfg.OnPoint(&out[len(out)-1])
		}
	}
	for _, t := range cfg.Targets {
		for _, w := range cfg.Workloads {
			if ctx.Err() != nil {
				break
			}
			// A fresh server per workload: its memory at each point is
			// that workload's, not what an earlier one left behind.
			srv, stop, err := t.Start(ctx)
			if err == nil && len(cfg.ServerCPUs) > 0 && srv.PID > 0 {
				err = PinTree(srv.PID, cfg.ServerCPUs)
			}
			if err != nil {
				if stop != nil {
					stop()
				}
				for _, n := range cfg.Conns {
					emit(report.Point{Server: t.Name, Workload: w.Name, Conns: n, ServerCPU: -1, Failure: err.Error()})
				}
				continue
			}
			for _, n := range cfg.Conns {
				if ctx.Err() != nil {
					break
				}
				if cfg.Progress != nil {
					var left time.Duration
					if done > 0 {
						left = time.Since(began) / time.Duration(done) * time.Duration(total-done)
					}
					cfg.Progress(done, total, t.Name, w.Name, n, left)
				}
				emit(measure(ctx, &cfg, t.Name, srv, w, n))
			}
			stop()
		}
	}
	return out, ctx.Err()
}

// measure runs one point.
func measure(ctx context.Context, cfg *SweepConfig, name string, srv Server, w Workload, n int) report.Point {
	p := report.Point{Server: name, Workload: w.Name, Conns: n, ServerCPU: -1}
	lc := Config{Addr: srv.Addr, Host: srv.Host, Conns: n, Duration: cfg.Duration, Mode: w.mode, Depth: w.depth,
		DialTimeout: cfg.DialTimeout, Warmup: cfg.Warmup}
	for _, path := range w.paths() {
		lc.Paths = append(lc.Paths, srv.Prefix+path)
	}
	if w.idle {
		lc.Conns, lc.Idle = idleLoaders, n
	}
	if w.mode != Pipeline {
		lc.Rate = cfg.Rate
	}
	var mon *monitor
	if srv.PID > 0 {
		mon = &monitor{pid: srv.PID}
		lc.WindowStart, lc.WindowEnd = mon.start, mon.end
	}
	r, err := Run(ctx, lc)
	if err != nil {
		p.Failure = err.Error()
		return p
	}
	secs := r.Elapsed.Seconds()
	p.Requests, p.Served = r.Requests, r.Served
	p.RPS = r.RPS()
	p.MBps = float64(r.Bytes) / secs / 1e6
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p.P50, p.P90, p.P99, p.P999, p.Max = ms(r.Quantile(0.5)), ms(r.Quantile(0.9)), ms(r.Quantile(0.99)), ms(r.Quantile(0.999)), ms(r.Max())
	if len(r.Errors) > 0 {
		p.Errors = r.Errors
	}
	p.ClientCPU = r.ClientCPU
	// Busy for 90% of the window on every core it has: the client, not
	// the server, may have set the pace.
	p.ClientBound = r.ClientCPU >= 0.9*secs*float64(runtime.GOMAXPROCS(0))
	p.IdleHeld = r.IdleHeld
	if mon != nil {
		p.ServerCPU, p.RSSPeak, p.RSSEnd, p.Threads = mon.cpu, mon.peak, mon.rssEnd, mon.threads
	}
	// Let the server see the closes before the next point.
	time.Sleep(20 * time.Millisecond)
	return p
}

// monitor reads a server's process tree during a point's window: CPU at
// its start and end, resident memory every 50 ms for the peak.
type monitor struct {
	pid     int
	cpu0    float64
	ok      bool
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	peak    int64
	cpu     float64
	rssEnd  int64
	threads int
}

func (m *monitor) start() {
	m.cpu0, m.ok = TreeCPU(m.pid)
	m.stop = make(chan struct{})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
		}
	}()
}

func (m *monitor) sample() int64 {
	rss, _ := TreeRSS(m.pid)
	m.mu.Lock()
	m.peak = max(m.peak, rss)
	m.mu.Unlock()
	return rss
}

func (m *monitor) end() {
	close(m.stop)
	m.wg.Wait()
	m.rssEnd = m.sample()
	m.threads, _ = TreeThreads(m.pid)
	m.cpu = -1
	if cpu1, ok := TreeCPU(m.pid); ok && m.ok {
		m.cpu = math.Max(0, cpu1-m.cpu0)
	}
}

// ParseConns reads a list such as "1,16,64".
func ParseConns(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 100000 {
			return nil, fmt.Errorf("weft: bench: bad connection count %q in %q (want positive numbers up to 100000, e.g. 1,64,512)", f, s)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}
