// Command weft is a static web server. Run `weft help` for usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/s3conn"
	"github.com/weft-server/weft/internal/server"
)

// errUsage marks an error already explained to the user on stderr.
var errUsage = errors.New("weft: usage")

func main() {
	// A closed stdout or stderr pipe (weft serve | head -1) must not kill
	// weft at its first warning: write errors are reported where they
	// happen instead. The server keeps this for its whole life.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args (without the program's name), writing
// to stdout and stderr, and returns the exit status: 0 done, 1 failed,
// 2 a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	args, ok := shorthand(root, args, stderr)
	if !ok {
		return 2
	}
	root.SetArgs(args)
	return exitCode(root.Execute(), stderr)
}

// serve serves the configuration of flags and the DIR in args.
func serve(flags *config.Flags, args []string, stdout, stderr io.Writer) error {
	opts, cfg, err := loadConfig(flags, args, stderr)
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
// idle ones close at once, what is left is busy. At a tenth of a second a
// loaded machine's event loop had not yet closed an idle one (counted as
// busy, once in a test); a third is still no wait a person notices.
const settle = 300 * time.Millisecond

// exitAt ends weft at once for a Ctrl-C during the graceful stop.
func exitAt(stderr io.Writer, sig os.Signal, worker bool) {
	code := 128 + int(syscall.SIGINT)
	if !worker {
		fmt.Fprintf(stderr, "weft: stopped at once (%v)\n", sig)
	}
	server.RemoveTemporaries()
	os.Exit(code)
}

// loadConfig loads the configuration of the parsed flags and the DIR in
// args (one at most), as weft serve does. Its errors are explained on
// stderr already.
func loadConfig(flags *config.Flags, args []string, stderr io.Writer) (config.Options, *config.Config, error) {
	opts := config.Options{Env: os.Environ(), Flags: flags, Engines: server.EngineNames()}
	packed, err := packedFlags()
	if err != nil {
		return opts, nil, err
	}
	opts.Packed = packed
	if len(args) == 1 {
		flags.SetRoot(args[0])
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
	if cfg.Root == "" || s3conn.IsURL(cfg.Root) {
		return nil // an object store is checked when it is opened
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

// parseInterleaved parses a command line of fs's flags and positional
// arguments in any order, for a command that parses its own flags (bench)
// rather than through cobra. Its errors are pflag.ErrHelp for -h and
// --help (fs has printed its usage), and errUsage for any other, explained
// on fs's output in one line and a hint.
func parseInterleaved(fs *pflag.FlagSet, args []string) ([]string, error) {
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		return nil, err
	}
	if err != nil {
		fmt.Fprintf(fs.Output(), "%s: %s\nRun '%s --help' for usage.\n", fs.Name(), flagErrorText(err, fs), fs.Name())
		return nil, errUsage
	}
	return fs.Args(), nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
