//go:build linux

// Command driver runs the side-by-side benchmark of bench/run: it builds a
// document root, starts each server pinned to CPU 0, loads it with wrk
// pinned to CPU 1, measures requests per second, throughput, p99 latency
// and the server's CPU time (its whole process tree, from /proc), and
// prints one table with weft/nginx ratios, all from the same run.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/loadgen"
)

var (
	weftBin  = flag.String("weft", "weft", "weft binary")
	work     = flag.String("work", os.TempDir(), "scratch directory")
	duration = flag.Duration("duration", 4*time.Second, "length of each wrk run")
	idleN    = flag.Int("idle", 10000, "idle keep-alive connections for the memory case (0 skips it)")
	reps     = flag.Int("reps", 3, "interleaved repetitions per case; the median is reported")
	only     = flag.String("cases", "", "comma-separated `prefixes` of the case names to run, or one prefix with commas (default all; \"none\" runs only the idle-memory case)")
	raw      = flag.Bool("raw", false, "also list every run, in the order run, with its server and wrk CPU per request")
)

type server struct {
	name  string
	start func(port int) (*exec.Cmd, error)
}

type result struct {
	rps, mbps, p99ms float64
	cpu              float64 // server CPU seconds during the run
	wrkBusy          float64 // wrk CPU seconds / wall seconds
	wrkCPU           float64 // wrk CPU seconds during the run
	errors           string
}

func main() {
	flag.Parse()
	root := filepath.Join(*work, "root")
	must(makeRoot(root))
	nginxConf := filepath.Join(*work, "nginx.conf")
	must(os.WriteFile(nginxConf, []byte(nginxConfig(*work, root)), 0o644))

	// The access-log case runs both servers with their default log
	// format to a file (each run starts it empty); the others log nothing.
	accessLog := filepath.Join(*work, "access.log")
	startWeft := func(port int, engine string, log bool) (*exec.Cmd, error) {
		logArgs := []string{"--no-access-log"}
		if log {
			must(os.WriteFile(accessLog, nil, 0o644))
			logArgs = []string{"--access-log", accessLog}
		}
		return startPinned(*weftBin, append([]string{"serve", root, "--addr", fmt.Sprintf("127.0.0.1:%d", port),
			"--engine", engine, "--max-conns", "20000"}, logArgs...)...)
	}
	startNginx := func(port int, log bool) (*exec.Cmd, error) {
		conf := strings.ReplaceAll(nginxConfig(*work, root), "PORT", strconv.Itoa(port))
		if log {
			must(os.WriteFile(accessLog, nil, 0o644))
			conf = strings.Replace(conf, "access_log off;", "access_log "+accessLog+";", 1)
		}
		must(os.WriteFile(nginxConf, []byte(conf), 0o644))
		return startPinned("nginx", "-c", nginxConf)
	}
	weft := func(engine string) server {
		return server{"weft " + engine, func(port int) (*exec.Cmd, error) { return startWeft(port, engine, false) }}
	}
	nginx := server{"nginx", func(port int) (*exec.Cmd, error) { return startNginx(port, false) }}
	weftLogged := server{"weft epoll", func(port int) (*exec.Cmd, error) { return startWeft(port, "epoll", true) }}
	nginxLogged := server{"nginx", func(port int) (*exec.Cmd, error) { return startNginx(port, true) }}

	type bcase struct {
		name, path string
		conns      int
		extra      []string
		servers    []server
		bytesCase  bool
	}
	engines := []server{weft("epoll"), weft("goroutine"), weft("thread"), weft("poll"), weft("process"), weft("serial")}
	main3 := []server{nginx, weft("epoll"), weft("goroutine")}
	cases := []bcase{
		{"1 KiB, 64 conns", "/index.html", 64, nil, append([]server{nginx}, engines...), false},
		{"1 KiB, 256 conns", "/index.html", 256, nil, main3, false},
		{"128 KiB", "/app.js", 32, nil, main3, true},
		{"10 MiB", "/big.bin", 8, nil, main3, true},
		{"1,000 files, random", "", 64, []string{"-s", writeRandomScript(*work)}, main3, false},
		{"conn per request", "/index.html", 64, []string{"-H", "Connection: close"}, main3, false},
		{"1 KiB, 64 conns, access log", "/index.html", 64, nil, []server{nginxLogged, weftLogged}, false},
	}

	fmt.Printf("# weft vs nginx, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("Machine: %s, %d CPUs. Servers pinned to CPU 0, wrk (1 thread) to CPU 1, keep-alive unless stated.\n", cpuModel(), numCPU())
	fmt.Printf("Each row: the median (by req/s) of %d interleaved runs of %v.\n", *reps, *duration)
	fmt.Printf("nginx %s: 1 worker, sendfile on, tcp_nopush on, open_file_cache on, keepalive_requests 1000000, access_log off. weft: --no-access-log. The access-log case logs to a file with each server's default format and buffering.\n\n", nginxVersion())
	fmt.Println("| case | server | req/s | MB/s | p99 ms | server CPU s | req per CPU-s | req/s vs nginx | efficiency vs nginx | server+wrk CPU µs/req | note |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	port := 18400
	var every []string // with -raw, a row per run
	var names []string
	for _, c := range cases {
		names = append(names, c.name)
	}
	for _, c := range cases {
		if !selected(c.name, *only, names) {
			continue
		}
		// Repetitions are interleaved (nginx, weft, nginx, weft, ...) so
		// that the machine's drift touches every server alike; each
		// server's row is its median run by req/s.
		runs := make([][]*result, len(c.servers))
		for rep := 0; rep < *reps; rep++ {
			for i, s := range c.servers {
				port++
				r, err := runCase(s, port, c.path, c.conns, c.extra)
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s, %s: %v\n", c.name, s.name, err)
					continue
				}
				runs[i] = append(runs[i], r)
				n := r.rps * duration.Seconds()
				every = append(every, fmt.Sprintf("| %s | %s | %d | %.0f | %.1f | %.1f |",
					c.name, s.name, rep+1, r.rps, r.cpu/n*1e6, r.wrkCPU/n*1e6))
			}
		}
		var base *result
		for i, s := range c.servers {
			r := median(runs[i])
			if r == nil {
				fmt.Printf("| %s | %s | error (see stderr) ||||||||\n", c.name, s.name)
				continue
			}
			if s.name == "nginx" {
				base = r
			}
			ratio, eff := "", ""
			if base != nil && s.name != "nginx" {
				ratio = fmt.Sprintf("%.2f×", r.rps/base.rps)
				eff = fmt.Sprintf("%.2f×", (r.rps/r.cpu)/(base.rps/base.cpu))
			}
			note := r.errors
			if r.wrkBusy > 0.9 {
				note = strings.TrimSpace(note + fmt.Sprintf(" wrk core saturated (%.0f%%)", 100*r.wrkBusy))
			}
			// Server and client CPU together per request: on loopback the
			// kernel charges the receiver's share of a transfer to
			// whichever process pushes the bytes, so this column is the
			// whole cost, whoever was billed for it.
			both := (r.cpu + r.wrkCPU) / (r.rps * duration.Seconds()) * 1e6
			fmt.Printf("| %s | %s | %.0f | %.1f | %.2f | %.2f | %.0f | %s | %s | %.1f | %s |\n",
				c.name, s.name, r.rps, r.mbps, r.p99ms, r.cpu, r.rps/r.cpu, ratio, eff, both, note)
		}
	}
	if *raw && len(every) > 0 {
		fmt.Printf("\nEvery run, in the order run:\n\n")
		fmt.Println("| case | server | run | req/s | server CPU µs/req | wrk CPU µs/req |")
		fmt.Println("|---|---|---:|---:|---:|---:|")
		for _, row := range every {
			fmt.Println(row)
		}
	}
	if *idleN <= 0 {
		return
	}
	fmt.Printf("\nExtra RSS with %d idle keep-alive connections (each answered once):\n\n", *idleN)
	fmt.Println("| server | RSS before MiB | RSS with idle conns MiB | extra MiB |")
	fmt.Println("|---|---:|---:|---:|")
	for _, s := range []server{nginx, weft("epoll"), weft("goroutine")} {
		port++
		before, after, err := idleRSS(s, port, *idleN)
		if err != nil {
			fmt.Printf("| %s | error: %v |||\n", s.name, err)
			continue
		}
		fmt.Printf("| %s | %.1f | %.1f | %.1f |\n", s.name, before, after, after-before)
	}
}

// selected reports whether the case name starts with one of the
// comma-separated prefixes (any name when there are none). Case names have
// commas too ("1 KiB, 64 conns"): when some name in all starts with the
// whole of prefixes, that whole is the only prefix.
func selected(name, prefixes string, all []string) bool {
	if prefixes == "" {
		return true
	}
	for _, n := range all {
		if strings.HasPrefix(n, prefixes) {
			return strings.HasPrefix(name, prefixes)
		}
	}
	for _, p := range strings.Split(prefixes, ",") {
		if p = strings.TrimSpace(p); p != "" && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// median returns the run with the median req/s (the upper middle for an
// even count), or nil for none.
func median(rs []*result) *result {
	if len(rs) == 0 {
		return nil
	}
	sorted := append([]*result(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].rps < sorted[j].rps })
	return sorted[len(sorted)/2]
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func makeRoot(root string) error {
	files := map[string]int{"index.html": 1 << 10, "style.css": 16 << 10, "app.js": 128 << 10, "big.bin": 10 << 20}
	for name, size := range files {
		if err := writeFile(filepath.Join(root, name), size, name); err != nil {
			return err
		}
	}
	for i := 0; i < 1000; i++ {
		if err := writeFile(filepath.Join(root, "files", fmt.Sprintf("f%04d.html", i)), 2<<10, strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(p string, size int, seed string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[(i+len(seed))%37]
	}
	return os.WriteFile(p, b, 0o644)
}

func nginxConfig(work, root string) string {
	return fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log;
worker_rlimit_nofile 30000;
events { worker_connections 25000; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=2000 inactive=60s;
  keepalive_requests 1000000;
  types { text/html html; text/css css; text/javascript js; application/octet-stream bin; }
  client_body_temp_path %[1]s/nginx-body;
  proxy_temp_path %[1]s/nginx-proxy;
  fastcgi_temp_path %[1]s/nginx-fastcgi;
  uwsgi_temp_path %[1]s/nginx-uwsgi;
  scgi_temp_path %[1]s/nginx-scgi;
  server { listen 127.0.0.1:PORT; root %[2]s; }
}
`, work, root)
}

func writeRandomScript(work string) string {
	p := filepath.Join(work, "random.lua")
	must(os.WriteFile(p, []byte(`math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/files/f%04d.html", math.random(0, 999)))
end
`), 0o644))
	return p
}

func startPinned(bin string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command("taskset", append([]string{"-c", "0", bin}, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, cmd.Start()
}

func waitListening(port int) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("nothing listening on port %d after 10s", port)
}

func stop(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func runCase(s server, port int, path string, conns int, extra []string) (*result, error) {
	cmd, err := s.start(port)
	if err != nil {
		return nil, err
	}
	defer stop(cmd)
	if err := waitListening(port); err != nil {
		return nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	// Warm up (caches, page cache, connection pools), then measure.
	exec.Command("taskset", "-c", "1", "wrk", "-t1", "-c8", "-d1s", url).Run()
	cpu0 := treeCPU(cmd.Process.Pid)
	args := append([]string{"-c", "1", "wrk", "-t1", fmt.Sprintf("-c%d", conns), "-d" + duration.String(), "--latency"}, extra...)
	w := exec.Command("taskset", append(args, url)...)
	var out bytes.Buffer
	w.Stdout, w.Stderr = &out, &out
	start := time.Now()
	if err := w.Run(); err != nil {
		return nil, fmt.Errorf("wrk: %v: %s", err, out.String())
	}
	wall := time.Since(start).Seconds()
	cpu := treeCPU(cmd.Process.Pid) - cpu0
	r := parseWrk(out.String())
	r.cpu = cpu
	r.wrkCPU = (w.ProcessState.UserTime() + w.ProcessState.SystemTime()).Seconds()
	r.wrkBusy = r.wrkCPU / wall
	return r, nil
}

var (
	reqRe  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	xferRe = regexp.MustCompile(`Transfer/sec:\s+([\d.]+)([KMG]?B)`)
	p99Re  = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	errRe  = regexp.MustCompile(`(Socket errors:[^\n]*|Non-2xx or 3xx responses:[^\n]*)`)
)

func parseWrk(s string) *result {
	r := &result{}
	if m := reqRe.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := xferRe.FindStringSubmatch(s); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		r.mbps = v * map[string]float64{"B": 1.0 / (1 << 20), "KB": 1.0 / 1024, "MB": 1, "GB": 1024}[m[2]]
	}
	if m := p99Re.FindStringSubmatch(s); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		r.p99ms = v * map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[m[2]]
	}
	for _, m := range errRe.FindAllString(s, -1) {
		r.errors = strings.TrimSpace(r.errors + " " + m)
	}
	return r
}

func treeCPU(pid int) float64 {
	secs, _ := loadgen.TreeCPU(pid)
	return secs
}

// treeRSS is the resident memory, in MiB, of pid and its descendants.
func treeRSS(pid int) float64 {
	b, _ := loadgen.TreeRSS(pid)
	return float64(b) / (1 << 20)
}

func idleRSS(s server, port, n int) (before, after float64, err error) {
	cmd, err := s.start(port)
	if err != nil {
		return 0, 0, err
	}
	defer stop(cmd)
	if err := waitListening(port); err != nil {
		return 0, 0, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	req := "GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n"
	exec.Command("taskset", "-c", "1", "wrk", "-t1", "-c8", "-d1s", "http://"+addr+"/index.html").Run()
	time.Sleep(500 * time.Millisecond)
	before = treeRSS(cmd.Process.Pid)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	buf := make([]byte, 4096)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return 0, 0, fmt.Errorf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := 0
		for got < 1024 { // the body is 1 KiB; the head comes first
			m, err := c.Read(buf)
			if err != nil {
				return 0, 0, fmt.Errorf("connection %d: %v", i, err)
			}
			got += m
		}
	}
	time.Sleep(time.Second)
	after = treeRSS(cmd.Process.Pid)
	return before, after, nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return "unknown CPU"
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func nginxVersion() string {
	out, _ := exec.Command("nginx", "-v").CombinedOutput()
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: "))
}
