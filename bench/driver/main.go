//go:build linux

// Command driver runs the side-by-side benchmark of bench/run: it builds a
// document root, starts each server pinned to CPU 0, loads it with wrk
// pinned to CPU 1, measures requests per second, throughput, p99 latency
// and the server's CPU time (its whole process tree, from /proc) over
// interleaved runs, and prints one table with weft/nginx ratios, all from
// the same run; for the compression cases, the bodies each server sent;
// then memory per idle keep-alive connection. The HTTPS cases add h2o
// beside nginx, load HTTP/2 with h2load and new TLS connections with the
// driver itself (-handshake-load).
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/weft-server/weft/internal/loadgen"
)

var (
	weftBin  = flag.String("weft", "weft", "weft binary")
	floorBin = flag.String("floor", "", "bench/floor binary: when set, the 1 KiB cases also run the floor (epoll and uring), the least any server can cost here")
	work     = flag.String("work", os.TempDir(), "scratch directory")
	duration = flag.Duration("duration", 4*time.Second, "length of each wrk run")
	idleN    = flag.Int("idle", 10000, "most idle keep-alive connections for the memory case, measured at 0, 1/4, 1/2 and all of it (0 skips it)")
	reps     = flag.Int("reps", 5, "interleaved runs per case and server; each cell is their median (min–max)")
	only     = flag.String("cases", "", "comma-separated `prefixes` of the case names to run, or one prefix with commas (default all; \"none\" runs only the idle-memory case)")
	raw      = flag.Bool("raw", false, "also list every run, in the order run, with its server and wrk CPU per request")
	// The load of the "https handshakes" case: the driver runs itself
	// with these (see handshakeLoad).
	hsLoad  = flag.String("handshake-load", "", "internal: load `URL` with a full TLS handshake per request, and exit")
	hsConns = flag.Int("handshake-conns", 64, "internal: clients of -handshake-load")
	redo    = flag.Int("redo", 0, "run a disturbed run (other processes took over a fifth of a core from the server's and wrk's) again, up to this many times; the table keeps the last try, -raw lists every try")
)

type server struct {
	name  string
	start func(port int) (*exec.Cmd, error)
	// heap, when set, returns the server's live heap in bytes after a
	// forced collection (weft, through --pprof).
	heap func(port int) (float64, bool)
	// accept, when set, is the Accept-Encoding that wrk (and its warm-up)
	// sends this server, and coding the Content-Encoding its answers must
	// carry, checked after the warm-up of every run (checkCoding) with
	// plain, the file, what the body must decode to. made says how the
	// server comes by the encoded body.
	accept, coding, made string
	plain                []byte
	// base: the others of its case are compared with it (as with nginx
	// elsewhere): the origin cases' weft over a directory.
	base bool
}

// bcase is one case of the table: a path loaded with conns connections
// (wrk's extra arguments), on each of servers in turn.
type bcase struct {
	name, path string
	conns      int
	extra      []string
	servers    []server
	bytesCase  bool
	// tls loads the servers over HTTPS; h2, when set, are h2load's
	// arguments (clients, streams per client), and the case loads over
	// HTTP/2 with h2load, not wrk.
	tls bool
	h2  []string
	// handshakes loads with handshakeLoad (this program, run again),
	// not wrk: a full TLS handshake per request.
	handshakes bool
}

type result struct {
	rps, mbps, p99ms float64
	requests         float64 // requests completed (wrk's "N requests in")
	cpu              float64 // server CPU seconds during the run
	wrkBusy          float64 // wrk CPU seconds / wall seconds
	wrkCPU           float64 // wrk CPU seconds during the run
	others           float64 // CPU seconds of CPUs 0 and 1 taken by neither (other processes, the hypervisor's steal)
	wall             float64 // seconds the run took
	body             float64 // bytes of the encoded body checked before the run (when the server has accept)
	errors           string
	tls              string // h2load's TLS session: "TLSv1.3 TLS_AES_128_GCM_SHA256 X25519", once it negotiated h2
}

func main() {
	flag.Parse()
	if *hsLoad != "" {
		must(handshakeLoad(*hsLoad, *hsConns, *duration))
		return
	}
	root := filepath.Join(*work, "root")
	must(makeRoot(root))
	nginxConf := filepath.Join(*work, "nginx.conf")
	must(os.WriteFile(nginxConf, []byte(nginxConfig(*work, nginxOpts{root: root})), 0o644))
	// The compression cases serve lib.js: weft from root, which has no
	// sidecar for it (so weft compresses it on the fly), nginx from root
	// or, for its static modules, from a root with lib.js.gz and
	// lib.js.br beside it.
	js := moduleJS(jsSize)
	must(os.WriteFile(filepath.Join(root, "lib.js"), js, 0o644))
	staticRoot := filepath.Join(*work, "root-static")
	must(makeStaticRoot(staticRoot, js))

	// The access-log case runs both servers logging every request to a
	// file (each run starts it empty) in the same common log format, both
	// buffering up to 64 KiB and flushing at least once a second (weft's
	// only way; nginx's buffer=64k flush=1s); the others log nothing.
	accessLog := filepath.Join(*work, "access.log")
	startWeftAt := func(at string, port int, engine string, log bool, extra ...string) (*exec.Cmd, error) {
		logArgs := []string{"--no-access-log"}
		if log {
			must(os.WriteFile(accessLog, nil, 0o644))
			logArgs = []string{"--access-log", accessLog}
		}
		args := append([]string{"serve", at, "--addr", fmt.Sprintf("127.0.0.1:%d", port),
			"--engine", engine, "--max-conns", "20000",
			// Started as root (CI), weft would switch to nobody, who
			// cannot read the work folder: it stays who it is started as.
			"--allow-root"}, logArgs...)
		return startPinned(*weftBin, append(args, extra...)...)
	}
	startWeft := func(port int, engine string, log bool, extra ...string) (*exec.Cmd, error) {
		return startWeftAt(root, port, engine, log, extra...)
	}
	startNginx := func(port int, log bool, o nginxOpts) (*exec.Cmd, error) {
		if o.root == "" {
			o.root = root
		}
		conf := strings.ReplaceAll(nginxConfig(*work, o), "PORT", strconv.Itoa(port))
		if log {
			must(os.WriteFile(accessLog, nil, 0o644))
			conf = strings.Replace(conf, "access_log off;", "access_log "+accessLog+" clf buffer=64k flush=1s;", 1)
		}
		must(os.WriteFile(nginxConf, []byte(conf), 0o644))
		return startPinned("nginx", "-c", nginxConf)
	}
	weft := func(engine string) server {
		return server{name: "weft " + engine, start: func(port int) (*exec.Cmd, error) { return startWeft(port, engine, false) }}
	}
	// For the idle-memory case weft also serves net/http/pprof on the
	// port 1,000 above its own, for a live-heap figure after a forced GC.
	weftHeap := func(engine string) server {
		return server{
			name:  "weft " + engine,
			start: func(port int) (*exec.Cmd, error) { return startWeft(port, engine, false, "--pprof", pprofAddr(port)) },
			heap:  liveHeap,
		}
	}
	// Metrics on (--admin, per-loop counters), for their cost beside
	// weft epoll without them; the admin listener is on the port 2,000
	// above weft's, and nothing scrapes it during the run.
	weftAdmin := server{name: "weft epoll --admin", start: func(port int) (*exec.Cmd, error) {
		return startWeft(port, "epoll", false, "--admin", fmt.Sprintf("127.0.0.1:%d", port+2000))
	}}
	nginx := server{name: "nginx", start: func(port int) (*exec.Cmd, error) { return startNginx(port, false, nginxOpts{}) }}
	weftLogged := server{name: "weft epoll", start: func(port int) (*exec.Cmd, error) { return startWeft(port, "epoll", true) }}
	nginxLogged := server{name: "nginx", start: func(port int) (*exec.Cmd, error) { return startNginx(port, true, nginxOpts{}) }}

	// The compression cases: weft compresses lib.js on the fly, once,
	// and serves the cached variant; nginx serves a sidecar (gzip_static,
	// brotli_static) or compresses every answer (gzip on, level 6, its
	// usual setting). Both send Vary: Accept-Encoding.
	weftJS := func(coding string) server {
		s := weft("epoll")
		s.accept, s.coding, s.made, s.plain = coding, coding, "on the fly, once, cached", js
		return s
	}
	nginxJS := func(name, accept, coding, made string, o nginxOpts) server {
		return server{name: name, start: func(port int) (*exec.Cmd, error) { return startNginx(port, false, o) },
			accept: accept, coding: coding, made: made, plain: js}
	}
	const vary = "gzip_vary on;"
	nginxGzipStatic := nginxJS("nginx gzip_static", "gzip", "gzip", "lib.js.gz sidecar (gzip 9)",
		nginxOpts{root: staticRoot, http: "gzip_static on; " + vary})
	nginxGzipFly := nginxJS("nginx gzip 6", "gzip", "gzip", "on the fly, every request (gzip 6)",
		nginxOpts{http: "gzip on; gzip_comp_level 6; gzip_types application/javascript text/javascript; " + vary})
	// nginx has no brotli of its own; with Debian's module it serves a
	// lib.js.br sidecar, the fairest peer, and without it the best it
	// can do for a client that accepts br: its gzip sidecar.
	nginxBr := nginxJS("nginx gzip_static (no brotli module)", "gzip, br", "gzip", "lib.js.gz sidecar (gzip 9)",
		nginxOpts{root: staticRoot, http: "gzip_static on; " + vary})
	if _, err := os.Stat(brotliModule); err == nil {
		nginxBr = nginxJS("nginx brotli_static", "br", "br", "lib.js.br sidecar (brotli 11)",
			nginxOpts{root: staticRoot, modules: "load_module " + brotliModule + ";", http: "brotli_static on; gzip_static on; " + vary})
	}

	h2o := server{name: "h2o", start: func(port int) (*exec.Cmd, error) {
		conf := filepath.Join(*work, "h2o-plain.conf")
		must(os.WriteFile(conf, []byte(h2oPlainConfig(*work, root, port)), 0o644))
		return startPinned("h2o", "-c", conf)
	}}
	lighttpd := server{name: "lighttpd", start: func(port int) (*exec.Cmd, error) {
		conf := filepath.Join(*work, "lighttpd.conf")
		must(os.WriteFile(conf, []byte(lighttpdConfig(*work, root, port)), 0o644))
		return startPinned("lighttpd", "-D", "-f", conf)
	}}
	engines := []server{weft("epoll"), weft("uring"), weft("goroutine"), weft("thread"), weft("poll"), weft("process"), weft("serial")}
	leaders := []server{nginx, h2o, lighttpd, weft("epoll"), weft("uring"), weft("goroutine")}
	// The floor (bench/floor) is no web server: it answers every request
	// with index.html's bytes and does nothing else, the least that
	// answering costs on this kernel in each model.
	var floors []server
	if *floorBin != "" {
		for _, mode := range []string{"epoll", "uring"} {
			floors = append(floors, server{name: "floor " + mode + " (not HTTP)", start: func(port int) (*exec.Cmd, error) {
				return startPinned(*floorBin, "-mode", mode, "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-file", filepath.Join(root, "index.html"))
			}})
		}
	}
	cases := []bcase{
		{"1 KiB, 64 conns", "/index.html", 64, nil, slices.Concat([]server{nginx, h2o, lighttpd}, engines, floors), false, false, nil, false},
		{"1 KiB, 256 conns", "/index.html", 256, nil, slices.Concat(leaders, floors), false, false, nil, false},
		{"128 KiB", "/app.js", 32, nil, leaders, true, false, nil, false},
		{"10 MiB", "/big.bin", 8, nil, leaders, true, false, nil, false},
		{"1,000 files, random", "", 64, []string{"-s", writeRandomScript(*work)}, leaders, false, false, nil, false},
		{"conn per request", "/index.html", 64, []string{"-H", "Connection: close"}, leaders, false, false, nil, false},
		{"1 KiB, 64 conns, access log", "/index.html", 64, nil, []server{nginxLogged, weftLogged}, false, false, nil, false},
		{"1 KiB, 64 conns, metrics", "/index.html", 64, nil, []server{nginx, weft("epoll"), weftAdmin}, false, false, nil, false},
		{"js gzip-static", "/lib.js", 64, nil, []server{nginxGzipStatic, weftJS("gzip")}, false, false, nil, false},
		{"js gzip-fly", "/lib.js", 64, nil, []server{nginxGzipFly, weftJS("gzip")}, false, false, nil, false},
		{"js br", "/lib.js", 64, nil, []server{nginxBr, weftJS("br")}, false, false, nil, false},
	}

	// The origin cases: weft epoll over the s3:// root beside weft epoll
	// over the directory holding the same files (see origin.go); the
	// store starts with the first of them.
	var store *originStore
	startS3 := func(port int) (*exec.Cmd, error) {
		if store == nil {
			var err error
			if store, err = startOrigin(*work, root); err != nil {
				return nil, err
			}
		}
		return startWeftAt("s3://"+originBucket, port, "epoll", false, store.originArgs()...)
	}
	weftDir := server{name: "weft epoll, directory", base: true, start: func(port int) (*exec.Cmd, error) { return startWeft(port, "epoll", false) }}
	weftS3 := server{name: "weft epoll, s3:// (cached)", start: startS3}
	cases = append(cases,
		bcase{name: "origin 1 KiB, 64 conns", path: "/index.html", conns: 64, servers: []server{weftDir, weftS3}},
		bcase{name: "origin 128 KiB", path: "/app.js", conns: 32, servers: []server{weftDir, weftS3}, bytesCase: true},
	)

	// The HTTPS cases: one certificate for the run (ECDSA P-256), the
	// same pair for every server; each server pinned to CPU 0 as in the
	// other cases, so weft's Go runtime runs with GOMAXPROCS 1, as it
	// would pinned to one core anywhere. weft serves TLS on its
	// goroutine engine (auto's choice with TLS): HTTP/1.1 on its own
	// core, HTTP/2 on its own HTTP/2 server (internal/h2).
	cert, key, err := writeCert(*work)
	must(err)
	must(os.WriteFile(filepath.Join(*work, "openssl.cnf"), []byte(opensslConf), 0o644))
	weftTLS := server{name: "weft goroutine", start: func(port int) (*exec.Cmd, error) {
		return startWeft(port, "goroutine", false, "--tls-cert", cert, "--tls-key", key)
	}}
	nginxHTTPS := server{name: "nginx", start: func(port int) (*exec.Cmd, error) { return startNginx(port, false, nginxTLS(cert, key)) }}
	h2oHTTPS := server{name: "h2o", start: func(port int) (*exec.Cmd, error) {
		conf := filepath.Join(*work, "h2o.conf")
		must(os.WriteFile(conf, []byte(h2oConfig(*work, root, cert, key, port)), 0o644))
		return startPinned("h2o", "-c", conf)
	}}
	https := []server{nginxHTTPS, weftTLS, h2oHTTPS}
	cases = append(cases,
		bcase{name: "https 1k h1", path: "/index.html", conns: 64, servers: https, tls: true},
		bcase{name: "https 1k h2", path: "/index.html", servers: https, tls: true, h2: []string{"-c64", "-m16"}},
		bcase{name: "https 128k h2", path: "/app.js", servers: https, tls: true, h2: []string{"-c16", "-m4"}, bytesCase: true},
		bcase{name: "https handshakes", path: "/index.html", conns: 64, servers: https, tls: true, handshakes: true},
	)

	var names []string
	for _, c := range cases {
		names = append(names, c.name)
	}
	fmt.Printf("# weft vs nginx, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("Machine: %s, %d CPUs. Servers pinned to CPU 0, wrk (1 thread) to CPU 1, keep-alive unless stated. "+
		"TCP congestion control %s, qdisc %s (bench/run's TCP_CC chooses the first for a run): with bbr, loopback transfers of 128 KiB and more are paced by each connection's own bandwidth estimate, which swings from run to run.\n",
		cpuModel(), numCPU(), sysctl("net/ipv4/tcp_congestion_control"), sysctl("net/core/default_qdisc"))
	fmt.Printf("Each server ran %d times per case, interleaved with the others, %v each. Figures: median (min–max) over the runs. "+
		"req per CPU-s and server+wrk CPU µs/req are pooled over the runs (Σ requests / Σ CPU seconds), the range after the first being the runs' own; "+
		"req/s vs nginx compares medians, efficiency vs nginx the pooled figures. "+
		"A run is noted as disturbed when other processes (or the hypervisor's steal) took over %.0f%% of a core from CPUs 0 and 1 during it.", *reps, *duration, 100*disturbed)
	if *redo > 0 {
		fmt.Printf(" A disturbed run was run again, up to %d times; the table keeps the last try.", *redo)
	}
	fmt.Println()
	fmt.Printf("nginx %s: 1 worker, listen deferred (TCP_DEFER_ACCEPT, as weft's epoll and poll engines set), sendfile on, tcp_nopush on, open_file_cache on, keepalive_requests 1000000, access_log off. weft: --no-access-log. "+
		"The access-log case logs every request to a file in common log format, buffered (64 KiB, flushed at least once a second) by both: nginx access_log ... buffer=64k flush=1s. "+
		"h2o %s: num-threads 1, no access log, its file handler. lighttpd %s: one process, no access log, keep-alive without a request limit.\n\n", nginxVersion(), h2oVersion(), lighttpdVersion())
	for _, c := range cases {
		if c.tls && selected(c.name, *only, names) {
			fmt.Printf("HTTPS cases (https ...): one self-signed ECDSA P-256 certificate for the run, the same for every server; TLS 1.2 and 1.3, session tickets and caches as each server ships them; "+
				"every client offers TLS 1.3 suites AES-128-GCM first (wrk through OPENSSL_CONF, as h2load and Go do), so every server runs TLS_AES_128_GCM_SHA256 with X25519. "+
				"nginx: listen ... ssl http2, the rest as above. h2o %s: num-threads 1, HTTP/2 by ALPN (its default), no access log, OCSP stapling off, the rest its defaults (private-key operations in its neverbleed process, counted in its CPU). "+
				"weft: --engine goroutine (auto's choice with TLS; HTTP/1.1 on weft's own core over crypto/tls, HTTP/2 on weft's own HTTP/2 server, internal/h2), GOMAXPROCS 1 from its one-CPU affinity. "+
				"https 1k h1: wrk -t1 -c64, keep-alive. https 1k h2: h2load -t1 -c64 -m16 (64 connections, 16 streams each), https 128k h2: h2load -t1 -c16 -m4, both -D for the run's length; h2load has no p99. "+
				"https handshakes: 64 clients of the driver's own loader (Go crypto/tls, no session cache: a full handshake each time, which wrk does not do: it resumes), each a new connection, one GET /index.html with Connection: close, the answer, the close; req/s is handshakes per second.\n\n", h2oVersion())
			break
		}
	}
	fmt.Println("| case | server | runs | req/s | MB/s | p99 ms | server CPU s | req per CPU-s | req/s vs nginx | efficiency vs nginx | server+wrk CPU µs/req | note |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	port := 18400
	var every []string  // with -raw, a row per run
	var bodies []string // a row per server of the compression cases
	failed := 0
	for _, c := range cases {
		if !selected(c.name, *only, names) {
			continue
		}
		// Repetitions are interleaved (nginx, weft, nginx, weft, ...) so
		// that the machine's drift touches every server alike.
		runs := make([][]*result, len(c.servers))
		redone := make([]int, len(c.servers))
		for rep := 0; rep < *reps; rep++ {
			for i, s := range c.servers {
				var r *result
				var err error
				for try := 0; ; try++ {
					port++
					if r, err = runCase(s, port, c); err != nil {
						break
					}
					again := try < *redo && r.disturbed()
					run := strconv.Itoa(rep + 1)
					if again {
						run += " (disturbed, redone)"
						redone[i]++
					}
					every = append(every, fmt.Sprintf("| %s | %s | %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.0f%% | %.2f |",
						c.name, s.name, run, r.rps, r.requests, r.cpu, r.cpu/r.requests*1e6, r.wrkCPU/r.requests*1e6, 100*r.wrkBusy, r.others))
					if !again {
						break
					}
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s, %s: %v\n", c.name, s.name, err)
					failed++
					continue
				}
				runs[i] = append(runs[i], r)
			}
		}
		baseRPS, baseEff := math.NaN(), math.NaN()
		for i, s := range c.servers {
			rs := runs[i]
			if len(rs) == 0 {
				fmt.Printf("| %s | %s | 0 | error (see stderr) |||||||||\n", c.name, s.name)
				continue
			}
			rps := summarize(field(rs, func(r *result) float64 { return r.rps }))
			p := pool(rs)
			isNginx := strings.HasPrefix(s.name, "nginx") || s.base
			if isNginx {
				baseRPS, baseEff = rps.med, p.perCPUSecond()
			}
			vsRPS, vsEff := "", ""
			if !isNginx {
				vsRPS, vsEff = ratio(rps.med, baseRPS), ratio(p.perCPUSecond(), baseEff)
			}
			runEff := summarize(field(rs, func(r *result) float64 { return r.requests / r.cpu }))
			// Server and client CPU together per request: on loopback the
			// kernel charges the receiver's share of a transfer to
			// whichever process pushes the bytes, so this column is the
			// whole cost, whoever was billed for it.
			note := notes(rs)
			if redone[i] > 0 {
				note = strings.TrimPrefix(note+fmt.Sprintf("; %d disturbed runs redone", redone[i]), "; ")
			}
			fmt.Printf("| %s | %s | %d | %s | %s | %s | %s | %.0f (%.0f–%.0f) | %s | %s | %.1f | %s |\n",
				c.name, s.name, len(rs), rps.format(0),
				summarize(field(rs, func(r *result) float64 { return r.mbps })).format(1),
				summarize(field(rs, func(r *result) float64 { return r.p99ms })).format(2),
				summarize(field(rs, func(r *result) float64 { return r.cpu })).format(2),
				p.perCPUSecond(), runEff.min, runEff.max, vsRPS, vsEff, p.bothMicros(), note)
			if s.accept != "" {
				b := summarize(field(rs, func(r *result) float64 { return r.body }))
				size := fmt.Sprintf("%.0f", b.med)
				if b.min != b.max {
					size = b.format(0)
				}
				bodies = append(bodies, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %.2f× | %s |",
					c.name, s.name, s.accept, s.coding, size, strconv.Itoa(len(s.plain)), float64(len(s.plain))/b.med, s.made))
			}
		}
	}
	if len(bodies) > 0 {
		fmt.Printf("\nThe js cases serve lib.js, a generated JavaScript module of %d bytes, to clients that send Accept-Encoding. "+
			"weft's root has no sidecar for it: weft compresses it on the fly once, off its event loops, and serves the cached variant; "+
			"nginx serves a sidecar written by weft precompress (gzip_static, brotli_static) or compresses every answer (gzip on). "+
			"Every run, after its warm-up and before it was measured, checked that the answer carried the Content-Encoding below "+
			"and decoded to the file. Bodies as sent:\n\n", len(js))
		fmt.Println("| case | server | Accept-Encoding | Content-Encoding | body bytes | file bytes | file/body | made |")
		fmt.Println("|---|---|---|---|---:|---:|---:|---|")
		for _, row := range bodies {
			fmt.Println(row)
		}
	}
	if *raw && len(every) > 0 {
		fmt.Printf("\nEvery run, in the order run:\n\n")
		fmt.Println("| case | server | run | req/s | requests | server CPU s | server CPU µs/req | wrk CPU µs/req | wrk busy | others' CPU s |")
		fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, row := range every {
			fmt.Println(row)
		}
	}
	if store != nil {
		port++
		if err := coldMisses(startS3, port); err != nil {
			fmt.Fprintf(os.Stderr, "bench: origin cold misses: %v\n", err)
			failed++
		}
		fmt.Printf("\nIn the origin cases the columns \"vs nginx\" compare weft over the s3:// root with weft over the directory (the same engine and files).\n")
		store.stop()
	}
	if *idleN > 0 {
		idleMemory([]server{nginx, weftHeap("epoll"), weftHeap("uring"), weftHeap("goroutine")}, &port, idleCounts(*idleN))
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d runs failed\n", failed)
		os.Exit(1)
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

// jsSize is the most bytes of lib.js, the compression cases' file.
const jsSize = 100 << 10

// brotliModule is where Debian's libnginx-mod-http-brotli-static puts
// nginx's brotli_static.
const brotliModule = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"

// makeStaticRoot writes js as dir/lib.js with the sidecars weft precompress
// writes beside it: lib.js.gz (gzip 9) and lib.js.br (brotli 11).
func makeStaticRoot(dir string, js []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "lib.js"), js, 0o644); err != nil {
		return err
	}
	out, err := exec.Command(*weftBin, "precompress", "--codings", "br,gzip", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("weft precompress: %w: %s", err, out)
	}
	for _, ext := range []string{".gz", ".br"} {
		if _, err := os.Stat(filepath.Join(dir, "lib.js"+ext)); err != nil {
			return fmt.Errorf("weft precompress wrote no lib.js%s: %s", ext, out)
		}
	}
	return nil
}

// nginxOpts are what a case changes in nginx's configuration.
type nginxOpts struct {
	root    string // document root (startNginx: the shared one when empty)
	modules string // main-context directives (load_module)
	http    string // http-context directives
	listen  string // parameters of the listen directive beside deferred (ssl http2)
	server  string // server-context directives (certificates)
}

func nginxConfig(work string, o nginxOpts) string {
	return fmt.Sprintf(`%[3]s
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log;
worker_rlimit_nofile 30000;
events { worker_connections 25000; }
http {
  # The common log format, as weft writes it ($remote_user and an empty
  # variable print as "-").
  log_format clf '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent';
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
  %[4]s
  server { listen 127.0.0.1:PORT %[5]s deferred; root %[2]s; %[6]s }
}
`, work, o.root, o.modules, o.http, o.listen, o.server)
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

func runCase(s server, port int, c bcase) (*result, error) {
	cmd, err := s.start(port)
	if err != nil {
		return nil, err
	}
	defer stop(cmd)
	if err := waitListening(port); err != nil {
		return nil, err
	}
	scheme := "http"
	if c.tls {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, port, c.path)
	var header []string
	if s.accept != "" {
		header = []string{"-H", "Accept-Encoding: " + s.accept}
	}
	// Warm up (caches, page cache, connection pools, weft's compressed
	// variant), then measure.
	warm := append([]string{"-c", "1", "wrk", "-t1", "-c8", "-d1s"}, header...)
	if c.h2 != nil {
		warm = []string{"-c", "1", "h2load", "-t1", "-c8", "-m4", "-D1"}
	}
	// wrk offers TLS 1.3's suites in h2load's order (see opensslConf).
	sslEnv := append(os.Environ(), "OPENSSL_CONF="+filepath.Join(*work, "openssl.cnf"))
	wc := exec.Command("taskset", append(warm, url)...)
	wc.Env = sslEnv
	wc.Run()
	var body int
	if s.accept != "" {
		if body, err = checkCoding(url, s, 5*time.Second); err != nil {
			return nil, err
		}
	}
	cpu0, busy0 := treeCPU(cmd.Process.Pid), coresBusy()
	args := append([]string{"-c", "1", "wrk", "-t1", fmt.Sprintf("-c%d", c.conns), "-d" + duration.String(), "--latency"}, c.extra...)
	if c.h2 != nil {
		args = append([]string{"-c", "1", "h2load", "-t1", "-D" + strconv.FormatFloat(duration.Seconds(), 'f', -1, 64)}, c.h2...)
	}
	if c.handshakes {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args = []string{"-c", "1", self, "-duration", duration.String(), "-handshake-conns", strconv.Itoa(c.conns), "-handshake-load"}
	}
	args = append(args, header...)
	w := exec.Command("taskset", append(args, url)...)
	w.Env = sslEnv
	var out bytes.Buffer
	w.Stdout, w.Stderr = &out, &out
	start := time.Now()
	if err := w.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", filepath.Base(args[2]), err, out.String())
	}
	wall := time.Since(start).Seconds()
	cpu, busy := treeCPU(cmd.Process.Pid)-cpu0, coresBusy()-busy0
	var r *result
	if c.h2 != nil {
		if r = parseH2load(out.String()); r.tls == "" {
			return nil, fmt.Errorf("h2load negotiated no HTTP/2: %s", out.String())
		}
	} else {
		r = parseWrk(out.String())
	}
	if r.requests == 0 {
		r.requests = r.rps * wall
	}
	r.cpu = cpu
	r.body = float64(body)
	r.wrkCPU = (w.ProcessState.UserTime() + w.ProcessState.SystemTime()).Seconds()
	r.wrkBusy = r.wrkCPU / wall
	r.wall = wall
	r.others = max(0, busy-cpu-r.wrkCPU)
	return r, nil
}

// coresBusy returns the CPU seconds that CPUs 0 and 1 (the server's and
// wrk's) have spent on anything but idling, steal included, from
// /proc/stat.
func coresBusy() float64 {
	b, _ := os.ReadFile("/proc/stat")
	return parseCoresBusy(string(b), "cpu0", "cpu1")
}

// parseCoresBusy sums the busy time of the named CPUs in a /proc/stat:
// user, nice, system, irq, softirq and steal, in USER_HZ (100 a second on
// Linux). With tick-based accounting a task's time includes the softirq
// work done in its context, so the sum less the server's and wrk's time
// is what the rest of the machine took from their cores.
func parseCoresBusy(stat string, cpus ...string) float64 {
	var ticks float64
	for _, l := range strings.Split(stat, "\n") {
		f := strings.Fields(l)
		if len(f) < 9 || !slices.Contains(cpus, f[0]) {
			continue
		}
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			v, _ := strconv.ParseFloat(f[i], 64)
			ticks += v
		}
	}
	return ticks / 100
}

// checkCoding asks url for its file with s's Accept-Encoding until the
// answer carries s.coding (weft answers identity until its variant is
// built), for at most wait, and checks that the body decodes to s.plain.
// It returns the size of the body as sent.
func checkCoding(url string, s server, wait time.Duration) (int, error) {
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	cl := http.Client{Transport: tr, Timeout: 5 * time.Second}
	got := "no answer"
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Accept-Encoding", s.accept)
		resp, err := cl.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		ce := resp.Header.Get("Content-Encoding")
		if resp.StatusCode != http.StatusOK || ce != s.coding {
			got = fmt.Sprintf("%s with Content-Encoding %q", resp.Status, ce)
			continue
		}
		plain, err := decode(body, ce)
		if err != nil {
			return 0, fmt.Errorf("%s body: %w", ce, err)
		}
		if !bytes.Equal(plain, s.plain) {
			return 0, fmt.Errorf("the %s body decodes to %d bytes that are not the file's %d", ce, len(plain), len(s.plain))
		}
		return len(body), nil
	}
	return 0, fmt.Errorf("asked with Accept-Encoding %q for Content-Encoding %q, got %s", s.accept, s.coding, got)
}

// decode returns body decoded from coding (gzip or br).
func decode(body []byte, coding string) ([]byte, error) {
	var r io.Reader
	switch coding {
	case "gzip":
		z, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		r = z
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	default:
		return nil, fmt.Errorf("no decoder for %q", coding)
	}
	return io.ReadAll(r)
}

var (
	reqRe  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	nReqRe = regexp.MustCompile(`(\d+) requests in `)
	xferRe = regexp.MustCompile(`Transfer/sec:\s+([\d.]+)([KMG]?B)`)
	p99Re  = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	errRe  = regexp.MustCompile(`(Socket errors:[^\n]*|Non-2xx or 3xx responses:[^\n]*)`)
)

func parseWrk(s string) *result {
	r := &result{}
	if m := reqRe.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := nReqRe.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.ParseFloat(m[1], 64)
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

// pprofAddr is where a weft started for the idle-memory case serves
// net/http/pprof: 1,000 above its port, below the ephemeral range.
func pprofAddr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port+1000) }

// liveHeap asks a weft started with --pprof for its heap after a forced
// collection (/debug/pprof/heap?gc=1) and returns the runtime's HeapAlloc
// from it: the bytes of live objects, plus what was allocated since the
// collection.
func liveHeap(port int) (float64, bool) {
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + pprofAddr(port) + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
	return parseHeapAlloc(string(b))
}

var heapAllocRe = regexp.MustCompile(`(?m)^# HeapAlloc = (\d+)$`)

// parseHeapAlloc finds the runtime's HeapAlloc in a text heap profile.
func parseHeapAlloc(s string) (float64, bool) {
	m := heapAllocRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// memPoint is a server's memory with some idle connections open.
type memPoint struct {
	conns int
	smaps loadgen.Smaps
	heap  float64 // live heap in bytes after a forced GC; NaN when unknown
}

// idleMemory measures each server's memory with counts[i] idle keep-alive
// connections open (each answered once), and prints the cost of one
// connection: the slope of a least-squares fit of memory over the counts.
func idleMemory(servers []server, port *int, counts []int) {
	if len(counts) == 0 {
		return
	}
	raiseNoFile(uint64(counts[len(counts)-1] + 1000))
	type row struct {
		name string
		pts  []memPoint
		err  error
	}
	var rows []row
	for _, s := range servers {
		*port++
		pts, err := idleSteps(s, *port, counts)
		rows = append(rows, row{s.name, pts, err})
	}
	fmt.Printf("\nMemory per idle keep-alive connection (each answered once): the slope of a least-squares fit over %v connections, "+
		"from the server's process tree's smaps_rollup (Private = Private_Clean + Private_Dirty) and, for weft, its live heap after a forced GC "+
		"(HeapAlloc from --pprof /debug/pprof/heap?gc=1, taken just before smaps). Kernel socket buffers are in none of them.\n\n", counts)
	fmt.Println("| server | Rss B/conn | Pss B/conn | Private B/conn | live heap B/conn |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, r := range rows {
		if r.err != nil {
			fmt.Printf("| %s | error: %v ||||\n", r.name, r.err)
			continue
		}
		xs := make([]float64, len(r.pts))
		var rss, pss, priv, heap []float64
		for i, p := range r.pts {
			xs[i] = float64(p.conns)
			rss = append(rss, float64(p.smaps.Rss))
			pss = append(pss, float64(p.smaps.Pss))
			priv = append(priv, float64(p.smaps.Private))
			heap = append(heap, p.heap)
		}
		h := "n/a"
		if hs := slope(xs, heap); !math.IsNaN(hs) {
			h = fmt.Sprintf("%.0f", hs)
		}
		fmt.Printf("| %s | %.0f | %.0f | %.0f | %s |\n", r.name, slope(xs, rss), slope(xs, pss), slope(xs, priv), h)
	}
	fmt.Printf("\nThe measurements behind it:\n\n")
	fmt.Println("| server | idle conns | Rss MiB | Pss MiB | Private MiB | live heap MiB |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	const mib = 1 << 20
	for _, r := range rows {
		for _, p := range r.pts {
			h := "n/a"
			if !math.IsNaN(p.heap) {
				h = fmt.Sprintf("%.2f", p.heap/mib)
			}
			fmt.Printf("| %s | %d | %.2f | %.2f | %.2f | %s |\n", r.name, p.conns,
				float64(p.smaps.Rss)/mib, float64(p.smaps.Pss)/mib, float64(p.smaps.Private)/mib, h)
		}
	}
}

// idleSteps starts s, warms it up, then opens idle connections up to each
// count in turn and measures its memory a second after each step.
func idleSteps(s server, port int, counts []int) ([]memPoint, error) {
	cmd, err := s.start(port)
	if err != nil {
		return nil, err
	}
	defer stop(cmd)
	if err := waitListening(port); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	exec.Command("taskset", "-c", "1", "wrk", "-t1", "-c8", "-d1s", "http://"+addr+"/index.html").Run()
	time.Sleep(500 * time.Millisecond)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	req := []byte("GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n")
	buf := make([]byte, 8192)
	var pts []memPoint
	for _, n := range counts {
		for len(conns) < n {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return nil, fmt.Errorf("connection %d: %w", len(conns), err)
			}
			conns = append(conns, c)
			if err := answeredOnce(c, req, buf); err != nil {
				return nil, fmt.Errorf("connection %d: %w", len(conns)-1, err)
			}
		}
		time.Sleep(time.Second)
		p := memPoint{conns: n, heap: math.NaN()}
		if s.heap != nil {
			if h, ok := s.heap(port); ok {
				p.heap = h
			}
		}
		var ok bool
		if p.smaps, ok = loadgen.TreeSmaps(cmd.Process.Pid); !ok {
			return nil, fmt.Errorf("no /proc/%d/smaps_rollup", cmd.Process.Pid)
		}
		pts = append(pts, p)
	}
	return pts, nil
}

// answeredOnce sends req on c and reads the whole answer: its head, then
// Content-Length bytes of body.
func answeredOnce(c net.Conn, req, buf []byte) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(req); err != nil {
		return err
	}
	got := 0
	for {
		m, err := c.Read(buf[got:])
		if err != nil {
			return err
		}
		got += m
		head := bytes.Index(buf[:got], []byte("\r\n\r\n"))
		if head < 0 {
			if got == len(buf) {
				return errors.New("answer head too long")
			}
			continue
		}
		if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
			return fmt.Errorf("answer %q", buf[:head])
		}
		m2 := contentLengthRe.FindSubmatch(buf[:head])
		if m2 == nil {
			return fmt.Errorf("no Content-Length in %q", buf[:head])
		}
		cl, _ := strconv.Atoi(string(m2[1]))
		for rest := head + 4 + cl - got; rest > 0; {
			m, err := c.Read(buf[:min(rest, len(buf))])
			if err != nil {
				return err
			}
			rest -= m
		}
		return nil
	}
}

var contentLengthRe = regexp.MustCompile(`(?i)\r\ncontent-length: *(\d+)`)

// raiseNoFile lifts this process's descriptor limit (inherited by the
// servers it starts) to at least n, where it may.
func raiseNoFile(n uint64) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur >= n {
		return
	}
	want := syscall.Rlimit{Cur: n, Max: max(lim.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %d descriptors wanted, %d allowed: %v\n", n, lim.Cur, err)
	}
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

// sysctl reads a kernel setting under /proc/sys, or "unknown".
func sysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func nginxVersion() string {
	out, _ := exec.Command("nginx", "-v").CombinedOutput()
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: "))
}
