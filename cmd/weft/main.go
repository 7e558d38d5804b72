// Command weft is a static web server. Run `weft help` for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version from the build info is used.
var version = ""

const usage = `weft — a static web server

Usage:
  weft serve [flags] [DIR]   serve DIR (the built-in sample site when omitted)
  weft bench [flags] [DIR]   measure every engine side by side on this machine
  weft precompress [flags] DIR
                             write DIR's .br, .zst and .gz sidecars at deploy time
                             (--check: list stale ones and exit 1)
  weft version               print the version
  weft help                  print this help

Run "weft serve --help", "weft bench --help" or "weft precompress --help" for
their flags.
`

// errUsage marks an error already explained to the user on stderr.
var errUsage = errors.New("weft: usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(rest, stdout, stderr)
	case "bench":
		err = bench(rest, stdout, stderr)
	case "precompress":
		err = precompressCmd(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "weft", versionString())
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		if strings.HasPrefix(cmd, "-") {
			// Flags without a command mean serve.
			err = serve(args, stdout, stderr)
			break
		}
		fmt.Fprintf(stderr, "weft: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errReported):
		return 1
	}
	fmt.Fprintln(stderr, err)
	return 1
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("weft serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr       = fs.String("addr", "127.0.0.1:8080", "listen on `HOST:PORT` (0.0.0.0:PORT or [::]:PORT to serve the network)")
		port       = fs.Int("port", 0, "listen on `PORT` of the --addr host (shorthand -p)")
		eng        = fs.String("engine", "auto", "concurrency `model`: "+strings.Join(server.EngineNames(), "|"))
		workers    = fs.Int("workers", 0, "process engine: worker processes (0: one per core)")
		workerEng  = fs.String("worker-engine", "auto", "process engine: the `engine` each worker runs (goroutine|epoll|…)")
		dotfiles   = fs.Bool("dotfiles", false, "serve files and folders whose names begin with a dot")
		listing    = fs.Bool("listing", false, "list the contents of folders that have no index file")
		index      = fs.String("index", "index.html", "`file` served for a folder")
		noLog      = fs.Bool("no-access-log", false, "do not write an access log")
		logFormat  = fs.String("log-format", "common", "access log `format`: common|combined|json")
		logFile    = fs.String("access-log", "-", "access log `file` (- for standard output)")
		hdrTimeout = fs.Duration("read-header-timeout", h1conn.DefaultReadHeaderTimeout, "time a client has to send a request head")
		idle       = fs.Duration("idle-timeout", h1conn.DefaultIdleTimeout, "time an idle keep-alive connection is kept")
		wTimeout   = fs.Duration("write-timeout", h1conn.DefaultWriteTimeout, "time a client has to accept more response bytes")
		grace      = fs.Duration("shutdown-timeout", h1conn.DefaultShutdownTimeout, "time in-flight requests get to finish on shutdown")
		maxConns   = fs.Int("max-conns", h1conn.DefaultMaxConns, "most open connections")
		maxHead    = fs.Int("max-header-bytes", http1.DefaultLimits.MaxHeadBytes, "largest request head in bytes (431 beyond)")
		maxFields  = fs.Int("max-header-fields", http1.DefaultLimits.MaxHeaderCount, "most header fields in a request (431 beyond)")
		cacheBytes = fs.Int64("cache-max-bytes", 64<<20, "memory for cached file contents in bytes (0 disables the cache)")
		cacheFile  = fs.Int64("cache-max-file", 32<<10, "largest file held in memory, in bytes; larger ones are held open for sendfile")
		cacheOpen  = fs.Int("cache-max-open", 1000, "most large files held open")
		noWatch    = fs.Bool("cache-no-watch", false, "do not watch files for changes (for NFS and other network mounts); cached entries are re-checked every second")
		pprofAddr  = fs.String("pprof", "", "serve net/http/pprof on `HOST:PORT` (off when empty; keep it on loopback)")
		maxBody    = fs.Int64("max-body-bytes", h1conn.DefaultMaxBodyBytes, "largest request body read and dropped (413 beyond)")
	)
	fs.IntVar(port, "p", 0, "shorthand for --port")
	reps := addRepFlags(fs)
	mimes := mimeFlag{}
	fs.Var(mimes, "mime", "add or override a content type: `EXT=TYPE` serves files ending in EXT as TYPE (repeatable; .md=text/markdown)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: weft serve [flags] [DIR]\n\nServes DIR (the built-in sample site when omitted) over HTTP/1.1.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 1 {
		fmt.Fprintf(stderr, "weft serve: one DIR at most, got %q\n", positional)
		return errUsage
	}
	dir := ""
	if len(positional) == 1 {
		dir = positional[0]
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("weft: cannot serve %s: %w", dir, unwrapPath(err))
		}
	}
	listen := *addr
	portSet := false
	fs.Visit(func(f *flag.Flag) { portSet = portSet || f.Name == "port" || f.Name == "p" })
	if portSet { // -p 0 asks for any free port
		if *port < 0 || *port > 65535 {
			fmt.Fprintf(stderr, "weft serve: port %d out of range 1-65535\n", *port)
			return errUsage
		}
		host, _, err := net.SplitHostPort(listen)
		if err != nil {
			fmt.Fprintf(stderr, "weft serve: invalid --addr %q: want HOST:PORT\n", listen)
			return errUsage
		}
		listen = net.JoinHostPort(host, strconv.Itoa(*port))
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		fmt.Fprintf(stderr, "weft serve: invalid --addr %q: want HOST:PORT\n", listen)
		return errUsage
	}
	format, err := accesslog.ParseFormat(*logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", strings.TrimPrefix(err.Error(), "weft: "))
		return errUsage
	}
	for name, d := range map[string]time.Duration{"read-header-timeout": *hdrTimeout, "idle-timeout": *idle, "write-timeout": *wTimeout, "shutdown-timeout": *grace} {
		if d <= 0 {
			fmt.Fprintf(stderr, "weft serve: --%s must be positive, got %v\n", name, d)
			return errUsage
		}
	}
	if *workers < 0 {
		fmt.Fprintln(stderr, "weft serve: --workers must not be negative")
		return errUsage
	}
	if *cacheBytes < 0 || *cacheFile < 0 || *cacheOpen < 0 {
		fmt.Fprintln(stderr, "weft serve: cache sizes must not be negative")
		return errUsage
	}
	if *maxConns <= 0 || *maxHead < 256 || *maxFields <= 0 || *maxBody < 0 {
		fmt.Fprintln(stderr, "weft serve: --max-conns and --max-header-fields must be positive, --max-header-bytes at least 256, --max-body-bytes not negative")
		return errUsage
	}

	cfg := server.Config{
		Addr:         listen,
		Engine:       *eng,
		Workers:      *workers,
		WorkerEngine: *workerEng,
		Limits: engine.Config{
			Limits:            http1.Limits{MaxHeadBytes: *maxHead, MaxHeaderCount: *maxFields},
			ReadHeaderTimeout: *hdrTimeout,
			IdleTimeout:       *idle,
			WriteTimeout:      *wTimeout,
			ShutdownTimeout:   *grace,
			MaxConns:          *maxConns,
			MaxBodyBytes:      *maxBody,
		},
		AccessLog: !*noLog,
		LogFormat: format,
		LogFile:   *logFile,
		Stdout:    stdout,
		ErrorLog:  slog.New(slog.NewTextHandler(stderr, nil)),
	}
	cfg.Site.Root = dir
	cfg.Site.Dotfiles = *dotfiles
	cfg.Site.Listing = *listing
	cfg.Site.Index = *index
	cfg.Site.MIME = mimes
	cfg.Site.Cache = site.CacheConfig{MaxBytes: *cacheBytes, MaxFile: *cacheFile, MaxOpen: *cacheOpen, NoWatch: *noWatch}
	if *cacheBytes == 0 {
		cfg.Site.Cache.MaxBytes = -1
	}
	if err := reps.apply(&cfg.Site); err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return errUsage
	}
	cfg.PprofAddr = *pprofAddr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return server.Run(ctx, cfg)
}

// mimeFlag collects --mime EXT=TYPE flags, checked as they are parsed; a
// later one for the same extension wins.
type mimeFlag map[string]string

func (m mimeFlag) String() string {
	pairs := make([]string, 0, len(m))
	for ext, ctype := range m {
		pairs = append(pairs, ext+"="+ctype)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, " ")
}

func (m mimeFlag) Set(v string) error {
	ext, ctype, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want EXT=TYPE, as in .md=text/markdown")
	}
	key, value, err := site.CheckMIME(ext, ctype)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "weft: "))
	}
	m[key] = value
	return nil
}

// parseInterleaved parses flags that may come before or after the
// positional arguments, as users of most CLIs expect. Its errors are
// flag.ErrHelp for -h and --help, and errUsage for any other, which fs has
// explained on its output.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
