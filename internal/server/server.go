// Package server wires weft together: it opens the document root, builds
// the access log, picks the engine from an explicit table, listens, and runs
// until its context ends, then shuts down gracefully. On SIGHUP it reloads
// the configuration (reload.go).
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/epoll"
	"github.com/weft-server/weft/internal/engine/goroutine"
	"github.com/weft-server/weft/internal/engine/poll"
	"github.com/weft-server/weft/internal/engine/process"
	"github.com/weft-server/weft/internal/engine/serial"
	"github.com/weft-server/weft/internal/engine/thread"
	"github.com/weft-server/weft/internal/engine/uring"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/httpadapt"
	"github.com/weft-server/weft/internal/site"
)

// Config is everything `weft serve` can be told.
type Config struct {
	Addr   string // host:port, or unix:/path, to listen on (unless systemd passed the sockets: see takePassed)
	Engine string // a key of Engines, or "auto"

	Workers      int    // process engine: worker processes (one per core when zero)
	WorkerEngine string // process engine: the engine each worker runs ("auto" when empty)

	Site   site.Config       // Root "" serves Builtin
	Hosts  *site.HostsConfig // virtual hosts, served instead of Site when not nil
	Limits engine.Config     // timeouts and limits; Handler and Log are set by Run

	// Builtin is the site served for an empty root (a site packed into
	// the executable by weft pack); nil for the built-in sample site.
	Builtin fs.FS

	PprofAddr string // serve net/http/pprof here when set
	AdminAddr string // serve /metrics, /healthz, /readyz (and pprof with PprofAddr) here when set

	AccessLog  bool
	LogFormat  accesslog.Format // in local time or UTC (see Format.UTC)
	LogFile    string           // "" or "-" for Stdout
	Stdout     io.Writer        // where the access log and the banner go
	ErrorLog   *slog.Logger
	OnListen   func(addr net.Addr) // called once listening; nil prints a banner
	OnServing  func(urls []string) // called once listening with the URLs to open (see URLs), after the banner
	OpenConns  *atomic.Int64       // when set, counts the open HTTP/1 connections of an in-process engine (not HTTP/2's, nor prefork workers')
	FlushEvery time.Duration       // access log flush interval

	PidFile string // the process id is written here while serving ("" for nowhere); not by a prefork worker

	UnixMode  os.FileMode // the permissions of a unix: Addr's socket file (0: as created)
	UnixOwner string      // USER[:GROUP] to give a unix: Addr's socket file ("" to leave it)
	User      string      // USER[:GROUP] to switch to once listening ("" to stay): see privs.go
	UserAuto  bool        // User is weft's choice (root, without user or allow_root): it says so

	TLS TLSConfig // HTTPS, HTTP/2 and HTTP/3

	// Loaded is the configuration the fields above were derived from (see
	// FromConfig), nil for one built by hand. Reload, when set, reads the
	// configuration again for SIGHUP: see reload.go.
	Loaded *config.Config
	Reload func() (*config.Config, error)
}

// FromConfig derives the server's configuration from c (valid, as
// config.Load returns it).
func FromConfig(c *config.Config) Config {
	format, _ := c.AccessLogFormat()
	user, auto := runAs(c)
	return Config{
		Addr:         c.Listen(),
		Engine:       c.Engine,
		Workers:      c.Workers,
		WorkerEngine: c.WorkerEngine,
		Site:         c.Site(),
		Hosts:        c.Hosts(),
		Limits: engine.Config{
			Limits:            http1.Limits{MaxHeadBytes: c.MaxHeaderBytes, MaxHeaderCount: c.MaxHeaderFields},
			ReadHeaderTimeout: c.ReadHeaderTimeout,
			IdleTimeout:       c.IdleTimeout,
			WriteTimeout:      c.WriteTimeout,
			ShutdownTimeout:   c.ShutdownTimeout,
			MaxConns:          c.MaxConns,
			MaxBodyBytes:      c.MaxBodyBytes,
		},
		PprofAddr: c.Pprof,
		AdminAddr: c.Admin,
		AccessLog: !c.NoAccessLog,
		LogFormat: format,
		LogFile:   c.AccessLog,
		PidFile:   c.PidFile,
		UnixMode:  c.UnixModeBits(),
		UnixOwner: c.UnixOwner,
		User:      user,
		UserAuto:  auto,
		TLS:       tlsFromConfig(c),
		Loaded:    c,
	}
}

// Engines is the table of engines by name. The process engine's workers
// run the engine named by cfg.WorkerEngine.
func Engines(cfg *Config) map[string]engine.Engine {
	m := map[string]engine.Engine{
		"serial":    serial.Engine{},
		"thread":    thread.Engine{},
		"goroutine": goroutine.Engine{},
		"poll":      poll.Engine{},
		"epoll":     epoll.Engine{},
		"uring":     uring.Engine{},
	}
	if cfg != nil {
		m["process"] = process.Engine{Workers: cfg.Workers}
	} else {
		m["process"] = process.Engine{}
	}
	return m
}

// EngineNames lists the engines that may be chosen, "auto" included.
func EngineNames() []string {
	var names []string
	for n := range Engines(nil) {
		names = append(names, n)
	}
	sort.Strings(names)
	return append(names, "auto")
}

// uringAvailable reports whether the uring engine can run here; tests
// replace it to see the refusal.
var uringAvailable = uring.Available

// pickEngine resolves a name, "auto" meaning the fastest here.
func pickEngine(cfg *Config, name string) (engine.Engine, string, error) {
	table := Engines(cfg)
	if name == "" || name == "auto" {
		name = autoEngine()
	}
	e, ok := table[name]
	if !ok {
		return nil, "", fmt.Errorf("weft: unknown engine %q (have %s)", name, strings.Join(EngineNames(), ", "))
	}
	if name == "uring" {
		if err := uringAvailable(); err != nil {
			return nil, "", fmt.Errorf("weft: engine uring cannot run here (%s); use --engine epoll or auto", strings.TrimPrefix(err.Error(), "weft: "))
		}
	}
	return e, name, nil
}

// Run serves until ctx is done. Errors come back ready to print.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = slog.Default()
	}
	engName := cfg.Engine
	worker := process.IsWorker()
	if worker {
		// A prefork worker runs the in-process engine its supervisor
		// was told to give it.
		engName = cfg.WorkerEngine
	}
	if cfg.TLS.fronted() && (engName == "" || engName == "auto") {
		engName = "goroutine" // the fastest that serves any net.Conn
	}
	if err := checkUploads(&cfg.Site, cfg.Hosts); err != nil {
		return err
	}
	eng, engName, err := pickEngine(&cfg, engName)
	if err != nil {
		return err
	}
	if err := cfg.TLS.check(engName); err != nil {
		return err
	}
	if worker && engName == "process" {
		return errors.New("weft: --worker-engine cannot be process")
	}
	if _, _, err := pickEngine(&cfg, cfg.WorkerEngine); err != nil && engName == "process" {
		return err
	}
	scfg := cfg.Site
	var ln net.Listener
	listenAddr := cfg.Addr
	var privs *privileges
	var act passed
	if !worker {
		if privs, err = planPrivileges(&cfg); err != nil {
			return err
		}
		if act, err = takePassed(cfg.TLS.On()); err != nil {
			return err
		}
		defer act.close() // a listener taken over from it is closed by its server first
		if act.main != nil {
			listenAddr = act.main.Addr().String()
			if _, ok := act.main.Addr().(*net.UnixAddr); ok {
				listenAddr = "unix:" + listenAddr
			}
			cfg.Addr = listenAddr // where it listens, for the checks of a reload
		}
		if act.redirect != nil {
			cfg.TLS.redirectLn = act.redirect
		}
	}
	if _, unix := config.UnixPath(listenAddr); unix && cfg.TLS.fronted() {
		return errors.New("weft: TLS and h2c are not served on a unix socket: terminate TLS in the proxy in front, or listen on HOST:PORT")
	}
	if worker {
		// A worker serves the socket its supervisor bound, which a reload
		// keeps: authentication is checked against that, not against the
		// configuration's addr.
		if ln, err = inheritedListener(); err != nil {
			return err
		}
		defer ln.Close()
		listenAddr = ln.Addr().String()
		if _, ok := ln.Addr().(*net.UnixAddr); ok {
			listenAddr = "unix:" + listenAddr
		}
	}
	if err := checkListen(&scfg, cfg.Hosts, listenAddr, cfg.TLS.On()); err != nil {
		return err
	}
	label := scfg.Root
	roots := roots{site: cfg.Builtin}
	if worker {
		roots.sample = os.Getenv(process.EnvRoot)
	}
	defer roots.close()
	if cfg.Hosts != nil {
		label = fmt.Sprintf("%d virtual hosts", len(cfg.Hosts.Sites))
	} else if scfg.Root == "" && cfg.Builtin != nil {
		label = "the packed site"
	} else if scfg.Root == "" {
		label = "the built-in sample site"
	}
	if usesSample(&scfg, cfg.Hosts) {
		// Extracted once, here, so that the process engine's workers
		// share it.
		dir, err := roots.resolve("")
		if err != nil {
			return err
		}
		if p, ok := eng.(process.Engine); ok && !worker {
			p.Env = append(p.Env, process.EnvRoot+"="+dir)
			eng = p
		}
	}
	st, err := open(scfg, cfg.Hosts, &roots)
	if err != nil {
		return err
	}
	sw := newSwitch(st)
	ecfg := cfg.Limits
	ret := &retirer{log: cfg.ErrorLog, grace: ecfg.WithDefaults().ShutdownTimeout, stop: make(chan struct{})}
	defer func() {
		ret.shutdown()
		sw.cur.Load().site.Close()
	}()
	ecfg.Handler = sw
	ecfg.ErrorLog = cfg.ErrorLog
	ecfg.Open = cfg.OpenConns
	if l := cfg.Loaded; l != nil && len(l.Ignored) > 0 && !worker {
		cfg.ErrorLog.Warn("ignoring WEFT_* environment variables that name no setting", "names", strings.Join(l.Ignored, " "))
	}
	var alog *accesslog.Logger
	logFile := ""
	if cfg.AccessLog {
		w := cfg.Stdout
		if cfg.LogFile != "" && cfg.LogFile != "-" {
			logFile = cfg.LogFile
			f, err := openLog(logFile)
			if err != nil {
				return err
			}
			w = f
		}
		every := cfg.FlushEvery
		if every <= 0 {
			every = time.Second
		}
		alog = accesslog.New(w, cfg.LogFormat, every, cfg.ErrorLog)
		defer func() {
			alog.Close()
			if logFile != "" {
				// The file in use now: a reopen may have replaced the first.
				alog.Reopen(io.Discard).(*os.File).Close()
			}
		}()
		ecfg.Log = alog
	}

	// Signals are the process's, handled here for every engine (an
	// engine installs no handler): SIGHUP and SIGUSR1 reopen the access
	// log file, for log rotation. SIGHUP also reloads the configuration:
	// in-process engines swap in the new site; the prefork supervisor
	// checks it, then replaces its workers (which read what it checked:
	// see snapshotFile).
	// The supervisor passes SIGUSR1 on to its workers, so that they
	// reopen their logs. Workers reopen their own log on either.
	sd := &notifier{on: !worker}
	rs := &running{cfg: &cfg, alog: alog, logFile: logFile, sw: sw, ret: ret, roots: &roots, sd: sd, privs: privs}
	rs.sec.Store((*secure)(nil))
	if p, ok := eng.(process.Engine); ok && !worker {
		toEngine := make(chan os.Signal, 4)
		rs.toEngine = toEngine
		p.Signals = toEngine
		if cfg.Loaded != nil {
			snap, err := newSnapshotFile(cfg.Loaded)
			if err != nil {
				return err
			}
			defer snap.remove()
			rs.snap = snap
			p.Env = append(p.Env, process.EnvConfig+"="+snap.path)
		}
		eng = p
	}
	ob := &observed{sw: sw, sec: &rs.sec}
	if p, ok := eng.(process.Engine); ok && !worker {
		// Ready once its workers serve, not when it starts them.
		p.Ready = func() { sd.ready(&ob.ready) }
		eng = p
	}
	if cfg.AdminAddr != "" || act.admin != nil || (worker && os.Getenv(process.EnvMetricsDir) != "") {
		var pe *process.Engine
		if p, ok := eng.(process.Engine); ok && !worker {
			pe = &p
		}
		counters, gather, done, err := setupMetrics(engName, worker, ob, pe)
		if err != nil {
			return err
		}
		defer done()
		if pe != nil {
			eng = *pe
		}
		if counters != nil {
			ecfg.Meters = meters(counters)
		}
		if !worker {
			stop, err := serveAdmin(cfg.AdminAddr, act.admin, gather, ob, cfg.PprofAddr != "", cfg.ErrorLog)
			if err != nil {
				return err
			}
			defer stop()
		}
	}
	sigs := make(chan os.Signal, 4)
	handleSignals(sigs)
	sigDone, sigExited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sigExited)
		for {
			select {
			case sig := <-sigs:
				rs.onSignal(sig)
			case <-sigDone:
				return
			}
		}
	}()
	defer func() { // before the access log closes
		releaseSignals(sigs)
		close(sigDone)
		<-sigExited
	}()

	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr, cfg.ErrorLog, worker)
		if err != nil {
			return err
		}
		defer stop()
	}
	if !worker {
		if ln = act.main; ln == nil {
			if ln, err = listenSocket(cfg.Addr, cfg.UnixMode, cfg.UnixOwner); err != nil {
				return err
			}
		}
	}
	var serveLn net.Listener = ln
	scheme := "http"
	if cfg.TLS.fronted() {
		dcfg := ecfg.WithDefaults()
		sec, h1, err := startSecure(ctx, &cfg.TLS, ln, sw, dcfg, cfg.ErrorLog)
		if err != nil {
			ln.Close()
			return err
		}
		defer sec.stop()
		rs.sec.Store(sec)
		serveLn = h1
		if cfg.TLS.On() {
			scheme = "https"
		}
		if cfg.TLS.HTTP3 {
			ecfg.Handler = httpadapt.AltSvc(sw, sec.altSvc)
			ecfg.AltSvc = sec.altSvc
		}
		if ca := sec.caPath(); ca != "" && !worker {
			fmt.Fprintf(cfg.Stdout, "weft: development certificate signed by the local CA %s (trust it to browse without warnings)\n", ca)
		}
	}
	if cfg.PidFile != "" && !worker {
		remove, err := writePidFile(cfg.PidFile)
		if err != nil {
			ln.Close()
			return err
		}
		defer remove()
	}
	if privs != nil {
		// Every socket is open: switch users before serving.
		if err := switchUser(privs, &cfg, eng, &roots, rs, sw); err != nil {
			ln.Close()
			return err
		}
	}
	if worker {
		process.WorkerReady()
	} else {
		urls := URLs(ln.Addr(), scheme)
		sd.status = fmt.Sprintf("serving %s at %s (engine %s)", label, urls[0], engName+cfg.TLS.protocols())
		if cfg.OnListen != nil {
			cfg.OnListen(ln.Addr())
		} else {
			printBanner(cfg.Stdout, label, urls, engName+cfg.TLS.protocols())
		}
		if _, unix := ln.Addr().(*net.UnixAddr); cfg.OnServing != nil && !unix { // no URL a browser opens
			cfg.OnServing(urls)
		}
	}
	if _, ok := eng.(process.Engine); !ok || worker {
		sd.ready(&ob.ready)
	}
	// Draining: say so at once, not when the engine is done. The
	// goroutine the context's end starts may not have run when an idle
	// server's Serve returns, and the process exits on that return: once
	// Serve has returned after the end, stopping is called again, which
	// waits for the message or sends it (it is sent once).
	defer context.AfterFunc(ctx, func() {
		if f := beforeStopping.Load(); f != nil {
			(*f)()
		}
		sd.stopping(&ob.ready)
	})()
	err = eng.Serve(ctx, serveLn, ecfg.WithDefaults())
	if ctx.Err() != nil {
		sd.stopping(&ob.ready)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// usesSample reports whether a site to serve has the built-in sample
// site for root.
func usesSample(scfg *site.Config, hosts *site.HostsConfig) bool {
	if hosts == nil {
		return scfg.Root == ""
	}
	for i := range hosts.Sites {
		if hosts.Sites[i].Site.Root == "" {
			return true
		}
	}
	return false
}

// openLog opens the access log file for appending.
func openLog(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("weft: access log: %w", err)
	}
	return f, nil
}

// running is what the signal handler works on.
type running struct {
	cfg      *Config
	alog     *accesslog.Logger
	logFile  string
	toEngine chan<- os.Signal // the process engine's, or nil
	snap     *snapshotFile    // the process engine's workers' configuration, or nil
	sw       *siteSwitch
	ret      *retirer
	roots    *roots
	sec      atomic.Pointer[secure] // the HTTPS side, once started
	sd       *notifier              // the service manager's readiness (see notify.go)
	privs    *privileges            // the user switched to, or nil
}

// onSignal handles SIGHUP or SIGUSR1: it reopens the access log file (a
// log on standard output is flushed, retrying after a failure); on SIGHUP
// it reloads the configuration (see reload); it passes the signal on to
// the engine when it takes signals, but a SIGHUP only with a valid
// configuration; and it logs one line.
func (r *running) onSignal(sig os.Signal) {
	attrs := []any{"signal", sig.String()}
	switch {
	case r.alog == nil:
		attrs = append(attrs, "access_log", "off")
	case r.logFile == "":
		r.alog.Flush()
		attrs = append(attrs, "access_log", "standard output, flushed")
	default:
		if f, err := openLog(r.logFile); err != nil {
			attrs = append(attrs, "access_log", "not reopened; still writing to the old file", "err", err)
		} else {
			r.alog.Reopen(f).(*os.File).Close()
			attrs = append(attrs, "access_log", "reopened "+r.logFile)
		}
	}
	forward := r.toEngine != nil
	if sig == syscall.SIGHUP {
		r.sd.reloading()
		defer r.sd.ready(nil)
	}
	if sig == syscall.SIGHUP && r.cfg.Reload != nil {
		if r.toEngine != nil {
			forward = r.checkForWorkers()
		} else {
			r.reload()
		}
	}
	if forward {
		select {
		case r.toEngine <- sig:
			if sig == syscall.SIGHUP {
				attrs = append(attrs, "workers", "replacing")
			} else {
				attrs = append(attrs, "workers", "signalled")
			}
		default:
			attrs = append(attrs, "workers", "busy; signal dropped")
		}
	} else if r.toEngine != nil {
		attrs = append(attrs, "workers", "kept")
	}
	r.cfg.ErrorLog.Info("signal received", attrs...)
}

// inheritedListener is the socket a prefork worker's supervisor passed:
// TCP or unix.
func inheritedListener() (net.Listener, error) {
	f, err := process.WorkerListener()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("weft: worker: inherited listener: %w", err)
	}
	return ln, nil
}

func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
