// Command weft is a static web server. Run `weft help` for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/server"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version from the build info is used.
var version = ""

const usage = `weft — a static web server

Usage:
  weft serve [flags] [DIR]   serve DIR (the built-in sample site when omitted)
  weft [flags] [DIR]         the same, when DIR is a folder (./DIR for a folder
                             named like a command)
  weft bench [flags] [DIR]   measure every engine side by side on this machine
  weft precompress [flags] DIR
                             write DIR's .br, .zst and .gz sidecars at deploy time
                             (--check: list stale ones and exit 1)
  weft config check [--config FILE] [flags] [DIR]
                             check the configuration and print it, with where
                             each value comes from, without serving
  weft config example        print a configuration file with every key
  weft pack DIR -o FILE [flags]
                             write FILE, one executable serving DIR with the
                             flags given as its defaults
  weft reload [--pid-file FILE]
                             make the weft whose pid is in FILE (or pid_file)
                             re-read its configuration (SIGHUP)
  weft version               print the version
  weft help                  print this help

Run "weft serve --help", "weft bench --help", "weft precompress --help" or
"weft pack --help" for their flags.
`

// errUsage marks an error already explained to the user on stderr.
var errUsage = errors.New("weft: usage")

func main() {
	// A closed stdout or stderr pipe (weft serve | head -1) must not kill
	// weft at its first warning: write errors are reported where they
	// happen instead. The server keeps this for its whole life.
	signal.Ignore(syscall.SIGPIPE)
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
	case "config":
		err = configCmd(rest, stdout, stderr)
	case "reload":
		err = reloadCmd(rest, stdout, stderr)
	case "pack":
		err = packCmd(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "weft", versionString())
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		if strings.HasPrefix(cmd, "-") || isDir(cmd) {
			// Flags without a command, or a folder, mean serve.
			err = serve(args, stdout, stderr)
			break
		}
		if _, err := os.Stat(cmd); err == nil {
			fmt.Fprintf(stderr, "weft: %s is a file, not a folder to serve\nRun \"weft help\" for the commands; \"weft DIR\" serves a folder.\n", cmd)
		} else {
			fmt.Fprintf(stderr, "weft: unknown command %q, and no folder of that name\nRun \"weft help\" for the commands; \"weft DIR\" serves a folder.\n", cmd)
		}
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

// isDir reports whether name is an existing folder (or a link to one).
func isDir(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.IsDir()
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
	opts, cfg, err := loadConfig("weft serve", serveHelp, args, stderr)
	if err != nil {
		return err
	}
	if err := checkRoot(cfg); err != nil {
		return err
	}
	scfg := server.FromConfig(cfg)
	scfg.Builtin = packedSite()
	scfg.Stdout = stdout
	scfg.ErrorLog = slog.New(slog.NewTextHandler(stderr, nil))
	// A reload reads the file again, the one read now even when it was
	// found rather than named; the environment and the flags stay those
	// weft started with.
	opts = opts.Pin(cfg)
	scfg.Reload = func() (*config.Config, error) { return config.Load(opts) }
	scfg.OnServing = func(urls []string) {
		if cfg.QR {
			printQR(stdout, urls)
		}
		if cfg.Open {
			openBrowser(urls[0], stderr)
		}
	}

	// The count covers every connection only when one in-process engine
	// serves them all: not the prefork workers', nor HTTP/2's.
	var open atomic.Int64
	scfg.OpenConns = &open
	grace := scfg.Limits.WithDefaults().ShutdownTimeout
	waitsFor := func() string {
		if cfg.Engine == "process" || cfg.TLS() {
			return fmt.Sprintf("finishing open connections (up to %v)", grace)
		}
		switch n := open.Load(); n {
		case 0:
			return "closing"
		case 1:
			return fmt.Sprintf("finishing 1 connection (up to %v)", grace)
		default:
			return fmt.Sprintf("finishing %d connections (up to %v)", n, grace)
		}
	}
	ctx, stop := stopOnSignals(stderr, waitsFor)
	defer stop()
	return server.Run(ctx, scfg)
}

// stopOnSignals returns a context that ends at the first SIGINT or
// SIGTERM, when the server starts its graceful shutdown. After a SIGINT
// (Ctrl-C) it says what the shutdown waits for, as waitsFor tells it a
// moment later, once idle connections have closed. A Ctrl-C after the
// stop began exits at once, with the shell's status for it (130); a
// repeated SIGTERM does not: a service manager that sends it again (or a
// supervisor passing it on) still gets the graceful stop, and escalates
// with SIGKILL when it will not wait. stop releases the signals.
func stopOnSignals(stderr io.Writer, waitsFor func() string) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		cancel()
		worker := server.IsWorker()
		settled := time.After(settle)
		if sig != os.Interrupt || worker {
			settled = nil // nothing to say
		}
		// A prefork worker is stopped by its supervisor's SIGTERM as well
		// as by the terminal's SIGINT: only a second Ctrl-C stops it now.
		interrupts := 0
		if sig == os.Interrupt {
			interrupts++
		}
		for {
			select {
			case sig = <-sigs:
				if sig == os.Interrupt {
					interrupts++
				}
				if sig == os.Interrupt && (!worker || interrupts > 1) {
					exitAt(stderr, sig, worker)
				}
			case <-settled:
				fmt.Fprintf(stderr, "weft: stopping: %s; Ctrl-C again to stop now\n", waitsFor())
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// settle is how long after a shutdown starts its connections are counted:
// idle ones close at once, what is left is busy.
const settle = 100 * time.Millisecond

// exitAt ends weft at once for a Ctrl-C during the graceful stop.
func exitAt(stderr io.Writer, sig os.Signal, worker bool) {
	code := 128 + int(syscall.SIGINT)
	if !worker {
		fmt.Fprintf(stderr, "weft: stopped at once (%v)\n", sig)
	}
	os.Exit(code)
}

const serveHelp = `Usage: weft serve [flags] [DIR]

Serves DIR (the built-in sample site when omitted) over HTTP/1.1.

Every flag is also a key of the configuration file (./weft.toml when present,
or --config FILE) and an environment variable; flags override the variables,
which override the file. "weft config example" prints a file with every key,
"weft config check" the effective configuration. SIGHUP re-reads the file.

Flags:
`

// loadConfig parses a command line of serve's flags and [DIR] for the
// command name, whose usage starts with help, then loads the
// configuration. Its errors are explained on stderr already.
func loadConfig(name, help string, args []string, stderr io.Writer) (config.Options, *config.Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := config.NewFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	opts := config.Options{Env: os.Environ(), Flags: flags, Engines: server.EngineNames()}
	packed, err := packedFlags()
	if err != nil {
		return opts, nil, err
	}
	opts.Packed = packed
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return opts, nil, err
	}
	if len(positional) > 1 {
		fmt.Fprintf(stderr, "%s: one DIR at most, got %q\n", fs.Name(), positional)
		return opts, nil, errUsage
	}
	if len(positional) == 1 {
		flags.SetRoot(positional[0])
	}
	// A prefork worker serves what its supervisor checked, not the
	// file as it is now.
	if opts.Snapshot, err = server.WorkerSnapshot(); err != nil {
		return opts, nil, err
	}
	cfg, err := config.Load(opts)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "weft: "+strings.TrimPrefix(line, "weft: "))
		}
		if onlyUnavailable(err) {
			return opts, nil, errReported // well-formed, but not here: 1
		}
		return opts, nil, errUsage
	}
	return opts, cfg, nil
}

// onlyUnavailable reports whether every error err joins is about a value
// this build cannot honour (an unknown engine), rather than a malformed
// configuration.
func onlyUnavailable(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !errors.Is(e, config.ErrUnavailable) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, config.ErrUnavailable)
}

// checkServable reports what would stop weft serve from serving cfg
// here, as serve and a reload would find it: the roots, then the files
// each site needs beneath its root (the SPA file, the error pages).
func checkServable(cfg *config.Config) error {
	if err := checkRoot(cfg); err != nil {
		return err
	}
	return server.Check(cfg, packedSite())
}

// checkRoot reports a root that cannot be served, and where it was set:
// the root, or with virtual hosts each site's.
func checkRoot(cfg *config.Config) error {
	if len(cfg.Sites) == 0 {
		return checkDir(cfg)
	}
	for i := range cfg.Sites {
		if err := checkDir(cfg.SiteConfig(&cfg.Sites[i])); err != nil {
			return err
		}
	}
	return nil
}

func checkDir(cfg *config.Config) error {
	if cfg.Root == "" {
		return nil
	}
	if _, err := os.Stat(cfg.Root); err != nil {
		err = fmt.Errorf("weft: cannot serve %s: %w", cfg.Root, unwrapPath(err))
		if src := cfg.Source("root"); src.Kind != config.FromArg {
			err = fmt.Errorf("%w (root from %s)", err, src)
		}
		return err
	}
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
