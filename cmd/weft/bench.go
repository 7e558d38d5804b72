package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/weft-server/weft/internal/engine/uring"
	"github.com/weft-server/weft/internal/loadgen"
	"github.com/weft-server/weft/internal/report"
)

var bannerAddr = regexp.MustCompile(`http://([^/ ]+)/`)

const benchUsage = `Usage: weft bench [flags] [DIR]
       weft bench compare A.json B.json

Runs every engine, each as its own "weft serve" process on loopback, over a
grid of connection counts and workloads, and measures each point with the
built-in load generator. DIR is where the workloads' files are written and
served from (a temporary folder when omitted); --against adds servers
already running, which must serve DIR's files at their URL.

Workloads: %s.

"weft bench compare A.json B.json" prints B's figures over A's, point by
point (two --json outputs).

Flags:
`

// benchOptions are bench's flags.
type benchOptions struct {
	engines    string
	conns      string
	workloads  string
	duration   time.Duration
	warmup     time.Duration
	quick      bool
	rate       float64
	clientCPUs string
	serverCPUs string
	addrRange  string
	against    []string
	labels     []string
	pids       []string
	files      string
	jsonOut    string
	csvOut     string
	htmlOut    string
	chartsDir  string
	dialWait   time.Duration
}

// benchEngines are the engines bench knows; defaultEngines those it measures
// unless told: uring only where io_uring is available.
const benchEngines = "epoll,uring,goroutine,poll,process,thread,serial"

var defaultEngines = func() string {
	if uring.Available() != nil {
		return strings.Replace(benchEngines, "uring,", "", 1)
	}
	return benchEngines
}()

// addBenchFlags registers bench's flags on fs.
func addBenchFlags(fs *pflag.FlagSet) *benchOptions {
	o := &benchOptions{}
	fs.StringVar(&o.engines, "engines", defaultEngines, `weft engines to measure, comma-separated ("none" for only --against servers)`)
	fs.StringVar(&o.conns, "conns", "1,16,64,256,1024,4096", `connection counts, comma-separated (for the "idle" workload: idle connections)`)
	fs.StringVar(&o.workloads, "workload", "all", "workloads, comma-separated: all, or some of "+strings.Join(loadgen.WorkloadNames(), ","))
	fs.DurationVar(&o.duration, "duration", 150*time.Millisecond, "measured window per point")
	fs.DurationVar(&o.warmup, "warmup", 200*time.Millisecond, "the longest unmeasured load before each point's window, which opens as soon as every connection has had a response")
	fs.BoolVar(&o.quick, "quick", false, "a short sweep (about 20 s): conns 1,32,256 and workloads small,conn,idle, unless set")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: send this many requests per second in all, latencies counted from each request's intended start (0: closed loop)")
	fs.StringVar(&o.clientCPUs, "client-cpus", "", `pin the load generator to these CPUs, e.g. "0" or "0-1" (and use that many threads)`)
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "pin the servers (each engine's process tree, and --pid's) to these CPUs")
	fs.StringVar(&o.addrRange, "addr-range", "127.0.0.1:19000-19099", "loopback ports the engines listen on, HOST:LOW-HIGH (each takes the first free one)")
	fs.StringArrayVar(&o.against, "against", nil, "also measure the HTTP server at this URL (loopback), which serves DIR's files there; repeatable")
	fs.StringArrayVar(&o.labels, "label", nil, "name of the matching --against server in the outputs (default: its host:port); repeatable")
	fs.StringArrayVar(&o.pids, "pid", nil, "process id of the matching --against server, to read its CPU, memory and threads; repeatable")
	fs.StringVar(&o.files, "files", "", "same as DIR")
	fs.StringVar(&o.jsonOut, "json", "", "write every figure to this JSON file")
	fs.StringVar(&o.csvOut, "csv", "", "write every figure to this CSV file")
	fs.StringVar(&o.htmlOut, "report", "", "write a self-contained HTML report with SVG charts to this file")
	fs.StringVar(&o.chartsDir, "charts", "", "write each chart of the report as a standalone SVG file into this folder")
	fs.DurationVar(&o.dialWait, "dial-timeout", 2*time.Second, "how long a connection may take to open before it counts as a connect error")
	return o
}

// bench runs the sweep, or compares two runs.
func bench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return benchCompare(args[1:], stdout, stderr)
	}
	fs := pflag.NewFlagSet("weft bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	o := addBenchFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, benchUsage, strings.Join(loadgen.WorkloadNames(), ", "))
		fs.PrintDefaults()
	}
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error { return benchUsageErr(stderr, format, a...) }
	if fs.NArg() > 1 || (fs.NArg() == 1 && o.files != "") {
		return usageErr("one DIR at most (or --files)")
	}
	if fs.NArg() == 1 {
		o.files = fs.Arg(0)
	}
	if o.quick {
		if !fs.Changed("conns") {
			o.conns = "1,32,256"
		}
		if !fs.Changed("workload") {
			o.workloads = "small,conn,idle"
		}
	}
	cfg, err := o.sweepConfig()
	if err != nil {
		return usageErr("%v", strings.TrimPrefix(err.Error(), "weft: bench: "))
	}
	run := &report.Run{Date: time.Now().UTC(), Version: benchVersion(), CPUs: runtime.NumCPU(),
		ClientCPUs: o.clientCPUs, ServerCPUs: o.serverCPUs, Duration: o.duration.Seconds(), Warmup: o.warmup.Seconds(), Rate: o.rate}
	if o.clientCPUs != "" {
		cpus, _ := loadgen.ParseCPUList(o.clientCPUs)
		if err := loadgen.PinSelf(cpus); err != nil {
			return err
		}
	}
	if o.files == "" {
		dir, err := os.MkdirTemp("", "weft-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.files = dir
	}
	if err := loadgen.WriteFiles(o.files, cfg.Workloads); err != nil {
		return fmt.Errorf("weft: bench: write the workloads' files: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ports, err := parseAddrRange(o.addrRange)
	if err != nil {
		return usageErr("%v", err)
	}
	engineTargets, err := o.engineTargets(exe, ports)
	if err != nil {
		return usageErr("%v", err)
	}
	againstTargets, err := o.againstTargets()
	if err != nil {
		return usageErr("%v", err)
	}
	if err := o.prepareOutputs(); err != nil {
		return err
	}
	cfg.Targets = append(engineTargets, againstTargets...)
	if len(cfg.Targets) == 0 {
		return usageErr("nothing to measure: --engines none and no --against")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mode := "closed loop"
	if o.rate > 0 {
		mode = fmt.Sprintf("open loop at %g requests/s", o.rate)
	}
	fmt.Fprintf(stdout, "weft bench: %d points (%d servers × %d workloads × %d connection counts), %v each, %s; files in %s\n\n",
		cfg.Points(), len(cfg.Targets), len(cfg.Workloads), len(cfg.Conns), o.duration, mode, o.files)
	io.WriteString(stdout, report.TableHeader)
	progress := newProgress(stderr)
	cfg.Progress = progress.show
	cfg.OnPoint = func(p *report.Point) { report.WriteRow(stdout, p) }
	points, sweepErr := loadgen.Sweep(ctx, cfg)
	progress.clear()
	run.Points = points
	fmt.Fprintln(stdout)
	for _, w := range cfg.Workloads {
		run.Workloads = append(run.Workloads, report.Workload{Name: w.Name, Desc: w.Desc})
		fmt.Fprintf(stdout, "- %s: %s\n", w.Name, w.Desc)
	}
	if err := o.writeOutputs(run); err != nil {
		return err
	}
	if sweepErr != nil {
		return fmt.Errorf("weft: bench: interrupted after %d of %d points (outputs hold those)", len(points), cfg.Points())
	}
	return nil
}

// benchVersion is weft's version and revision, from weft version's text,
// on one line for the outputs.
func benchVersion() string {
	lines := strings.Split(strings.TrimSpace(versionText()), "\n")
	v := strings.TrimPrefix(lines[0], "weft ")
	for _, l := range lines[1:] {
		if rev, ok := strings.CutPrefix(l, "revision: "); ok {
			v += " (" + rev + ")"
		}
	}
	return v
}

// sweepConfig checks the grid flags.
func (o *benchOptions) sweepConfig() (loadgen.SweepConfig, error) {
	cfg := loadgen.SweepConfig{Duration: o.duration, Warmup: o.warmup, Rate: o.rate, DialTimeout: o.dialWait}
	if o.duration <= 0 || o.dialWait <= 0 || o.warmup < 0 {
		return cfg, errors.New("--duration and --dial-timeout must be positive, --warmup not negative")
	}
	if o.rate < 0 {
		return cfg, errors.New("--rate cannot be negative")
	}
	var err error
	if cfg.Conns, err = loadgen.ParseConns(o.conns); err != nil {
		return cfg, err
	}
	names := strings.Split(o.workloads, ",")
	if o.workloads == "all" {
		names = loadgen.WorkloadNames()
	}
	for _, n := range names {
		w, ok := loadgen.FindWorkload(strings.TrimSpace(n))
		if !ok {
			return cfg, fmt.Errorf("unknown workload %q (want all, or some of %s)", n, strings.Join(loadgen.WorkloadNames(), ","))
		}
		cfg.Workloads = append(cfg.Workloads, w)
	}
	for _, l := range []string{o.clientCPUs, o.serverCPUs} {
		if l == "" {
			continue
		}
		if _, err := loadgen.ParseCPUList(l); err != nil {
			return cfg, err
		}
	}
	if o.serverCPUs != "" {
		cfg.ServerCPUs, _ = loadgen.ParseCPUList(o.serverCPUs)
	}
	return cfg, nil
}

// portRange is the loopback host and ports engines listen on.
type portRange struct {
	host   string
	lo, hi int
}

// parseAddrRange reads HOST:LO-HI, HOST a loopback address.
func parseAddrRange(s string) (*portRange, error) {
	host, ports, err := net.SplitHostPort(s)
	if err != nil {
		return nil, fmt.Errorf("--addr-range %q: want HOST:LOW-HIGH, e.g. 127.0.0.1:19000-19099", s)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("--addr-range %q: bench binds loopback only (127.0.0.0/8, ::1 or localhost)", s)
	}
	lo, hi, _ := strings.Cut(ports, "-")
	if hi == "" {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 1 || b > 65535 || b < a {
		return nil, fmt.Errorf("--addr-range %q: want ports LOW-HIGH within 1-65535", s)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	return &portRange{host: host, lo: a, hi: b}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// take returns the first address of the range that nothing listens on
// (one engine runs at a time, so the previous one's port comes back).
func (r *portRange) take() (string, error) {
	for port := r.lo; port <= r.hi; port++ {
		addr := net.JoinHostPort(r.host, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr, nil
	}
	return "", fmt.Errorf("weft: bench: no free port in %s:%d-%d", r.host, r.lo, r.hi)
}

// engineTargets are weft's engines, each started as its own process.
func (o *benchOptions) engineTargets(exe string, ports *portRange) ([]loadgen.Target, error) {
	if o.engines == "none" || o.engines == "" {
		return nil, nil
	}
	var out []loadgen.Target
	for _, eng := range strings.Split(o.engines, ",") {
		eng = strings.TrimSpace(eng)
		if !slices.Contains(strings.Split(benchEngines, ","), eng) {
			return nil, fmt.Errorf("unknown engine %q (want some of %s, or none)", eng, benchEngines)
		}
		out = append(out, loadgen.Target{Name: eng, Start: func(ctx context.Context) (loadgen.Server, func(), error) {
			addr, err := ports.take()
			if err != nil {
				return loadgen.Server{}, nil, err
			}
			return startEngine(exe, o.files, eng, addr)
		}})
	}
	return out, nil
}

// startEngine runs `weft serve` with engine eng on addr, on the defaults
// whatever weft.toml is here (--config ”).
func startEngine(exe, dir, eng, addr string) (loadgen.Server, func(), error) {
	cmd := exec.Command(exe, "serve", dir, "--config", "", "--addr", addr, "--engine", eng, "--no-access-log", "--max-conns", "20000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return loadgen.Server{}, nil, err
	}
	// The child's stderr is copied by os/exec's goroutine while this one
	// may read it: a locked buffer, not a bare strings.Builder.
	errBuf := &syncBuffer{}
	cmd.Stderr = errBuf
	if err := cmd.Start(); err != nil {
		return loadgen.Server{}, nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if bannerAddr.FindStringSubmatch(line) == nil {
		stop()
		return loadgen.Server{}, nil, fmt.Errorf("server did not start: %s", strings.TrimSpace(errBuf.String()))
	}
	go io.Copy(io.Discard, out)
	return loadgen.Server{Addr: addr, Host: addr, Prefix: "/", PID: cmd.Process.Pid}, stop, nil
}

// againstTargets are the --against servers, checked to serve the files.
func (o *benchOptions) againstTargets() ([]loadgen.Target, error) {
	if len(o.labels) > len(o.against) || len(o.pids) > len(o.against) {
		return nil, errors.New("more --label or --pid than --against")
	}
	var out []loadgen.Target
	for i, raw := range o.against {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || u.Host == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("--against %q: want http://HOST:PORT/PATH/ (plain HTTP)", raw)
		}
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("--against %q: bench measures servers on this machine only (a loopback address)", raw)
		}
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
		prefix := u.Path
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		name := u.Host
		if i < len(o.labels) {
			name = o.labels[i]
		}
		pid := 0
		if i < len(o.pids) {
			if pid, err = strconv.Atoi(o.pids[i]); err != nil || pid <= 0 {
				return nil, fmt.Errorf("--pid %q: want a process id", o.pids[i])
			}
			if _, ok := loadgen.TreeCPU(pid); !ok {
				return nil, fmt.Errorf("--pid %d: cannot read /proc", pid)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				return nil, fmt.Errorf("--pid %d: no such process", pid)
			}
		}
		srv := loadgen.Server{Addr: addr, Host: u.Host, Prefix: prefix, PID: pid}
		out = append(out, loadgen.Target{Name: name, Start: func(ctx context.Context) (loadgen.Server, func(), error) {
			return srv, func() {}, checkServes(ctx, srv)
		}})
	}
	return out, nil
}

// checkServes asks srv for the small workload file once, so a server
// that does not serve DIR fails with a clear message rather than a grid
// of 404s.
func checkServes(ctx context.Context, srv loadgen.Server) error {
	u := "http://" + srv.Host + srv.Prefix + loadgen.ProbeFile
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s; it must serve the bench's files (DIR or --files)", u, resp.Status)
	}
	return nil
}

// prepareOutputs makes the output files' folders and checks that the
// files can be written, before a sweep of minutes rather than after.
func (o *benchOptions) prepareOutputs() error {
	for _, name := range []string{o.jsonOut, o.csvOut, o.htmlOut} {
		if name == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return fmt.Errorf("weft: bench: %w", err)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("weft: bench: %w", err)
		}
		f.Close()
	}
	if o.chartsDir != "" {
		if err := os.MkdirAll(o.chartsDir, 0o755); err != nil {
			return fmt.Errorf("weft: bench: %w", err)
		}
	}
	return nil
}

func (o *benchOptions) writeOutputs(run *report.Run) error {
	outs := []struct {
		name  string
		write func(io.Writer) error
	}{
		{o.jsonOut, run.WriteJSON},
		{o.csvOut, run.WriteCSV},
		{o.htmlOut, func(w io.Writer) error { return report.WriteHTML(w, run) }},
	}
	for _, out := range outs {
		if out.name == "" {
			continue
		}
		var buf bytes.Buffer
		if err := out.write(&buf); err != nil {
			return err
		}
		if err := os.WriteFile(out.name, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("weft: bench: %w", err)
		}
	}
	if o.chartsDir != "" {
		if _, err := report.WriteSVGs(o.chartsDir, run); err != nil {
			return fmt.Errorf("weft: bench: %w", err)
		}
	}
	return nil
}

// benchUsageErr prints a usage error as every command does (one line
// naming the problem, one hint) and returns errUsage.
func benchUsageErr(stderr io.Writer, format string, a ...any) error {
	fmt.Fprintf(stderr, "weft bench: "+format+"\nRun 'weft bench --help' for usage.\n", a...)
	return errUsage
}

func benchCompare(args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stderr, "Usage: weft bench compare A.json B.json\n\nPrints B's req/s, p99, CPU per request and memory over A's, point by point\n(two weft bench --json outputs).")
		return pflag.ErrHelp
	}
	if len(args) != 2 || strings.HasPrefix(args[0], "-") || strings.HasPrefix(args[1], "-") {
		return benchUsageErr(stderr, "compare wants two files, A.json and B.json (weft bench --json outputs), got %q", args)
	}
	a, err := report.ReadJSON(args[0])
	if err != nil {
		return err
	}
	b, err := report.ReadJSON(args[1])
	if err != nil {
		return err
	}
	return report.Compare(stdout, a, b, args[0], args[1])
}

// progress is the live line on a terminal's stderr; elsewhere it says
// nothing.
type progress struct {
	w   io.Writer
	tty bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && isTerminal(f)}
}

func (p *progress) show(done, total int, target, workload string, conns int, left time.Duration) {
	if !p.tty {
		return
	}
	eta := "…"
	if done > 0 {
		eta = left.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[Kweft bench: %s, %s, %d conns (point %d of %d, about %s left)", target, workload, conns, done+1, total, eta)
}

func (p *progress) clear() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
