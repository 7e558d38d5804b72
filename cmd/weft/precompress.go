package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/precompress"
)

const precompressLong = `Writes precompressed sidecars beside the files of DIR, for weft serve to send
to clients that accept them: app.js.br (brotli 11), app.js.zst (zstd at its
strongest level) and app.js.gz (gzip 9) beside app.js. Run it at deploy time,
once the files are in place; a second run writes nothing that is up to date.

Files: regular files (symbolic links are not followed), not dotfiles or in
dot-folders (.well-known excepted), of a --compress-types type by their
extension, at least --min-bytes long, not named like a sidecar (.br, .zst, .gz).

A sidecar is up to date when it is not older than its file (the server's rule
for sending it); one written here gets its file's modification time and
permissions (run as root, its owner too). A sidecar is kept only if it is at
least 5%% smaller than its file;
a file that does not shrink is listed, with its size and time, in
DIR/%s and not compressed again until it changes (delete the list to
try again). A stale sidecar is replaced, or removed when its file no longer
earns one. An orphan is a sidecar of a file that does not exist (X.br with no
X, where X would be compressed); it is reported, and removed with --prune only,
since a name like dump.json.gz may be a download of its own.

--check writes nothing. It lists stale sidecars (older than their file),
missing ones (an eligible file without one and not on the no-gain list) and
orphans, then exits 1 if it listed any, 0 if none. Give it the run's flags.

Exit status: 0 done; 1 a file failed (the others are still processed), or
--check listed something; 2 bad usage.`

// errReported marks a failure already explained on standard output or
// standard error: exit 1 without another message.
var errReported = errors.New("weft: reported")

func newPrecompressCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:   "precompress [flags] DIR",
		Short: "Write DIR's .br, .zst and .gz sidecars at deploy time",
		Long:  fmt.Sprintf(precompressLong, precompress.NoGainFile),
		Example: `  weft precompress ./public
  weft precompress --check ./public   # in CI: exit 1 when a sidecar is stale`,
		Args:              dirArgs(1, 1),
		ValidArgsFunction: completeDir,
	}
	var o precompressOpts
	fs := c.Flags()
	fs.BoolVar(&o.check, "check", false, "write nothing; list stale, missing and orphan sidecars and exit 1 if there is any")
	fs.StringVar(&o.codings, "codings", "br,zstd,gzip", "the sidecars to write: comma-separated br, zstd, gzip")
	fs.StringVar(&o.types, "compress-types", codec.DefaultTypes, "media types worth compressing: comma-separated type/subtype, type/* or type/*+suffix")
	fs.Int64Var(&o.minBytes, "min-bytes", precompress.DefaultMinBytes, "smallest file compressed, in bytes")
	fs.IntVarP(&o.jobs, "jobs", "j", 0, "files compressed at once (0: one per core)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print a line for every sidecar written, removed or not worth writing")
	fs.BoolVar(&o.force, "force", false, "rewrite every sidecar, up to date or not (after a deploy that set files' times into the past)")
	fs.BoolVar(&o.prune, "prune", false, "remove orphan sidecars")
	c.RunE = func(c *cobra.Command, args []string) error {
		o.dir = args[0]
		return runPrecompress(c, o, stdout, stderr)
	}
	return c
}

// precompressOpts are weft precompress's DIR and flags.
type precompressOpts struct {
	dir                   string
	check                 bool
	codings, types        string
	minBytes              int64
	jobs                  int
	verbose, force, prune bool
}

// runPrecompress runs weft precompress; c is the command, for its usage
// errors.
func runPrecompress(c *cobra.Command, o precompressOpts, stdout, stderr io.Writer) error {
	if o.jobs < 0 || o.minBytes < 0 {
		return &usageError{cmd: c, err: errors.New("--jobs and --min-bytes must not be negative")}
	}
	if o.check && (o.force || o.prune) {
		return &usageError{cmd: c, err: errors.New("--check writes nothing: no --force or --prune with it")}
	}
	cfg := precompress.Config{Dir: o.dir, Types: o.types, MinBytes: o.minBytes, Jobs: o.jobs, Force: o.force, Prune: o.prune}
	var err error
	if cfg.Codings, err = precompress.ParseCodings(o.codings); err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return &usageError{cmd: c, err: errors.New(strings.TrimPrefix(err.Error(), "weft: "))}
	}
	if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = syscall.ENOTDIR
		}
		return fmt.Errorf("weft: cannot precompress %s: %w", cfg.Dir, unwrapPath(err))
	}
	cfg.Progress = func(it precompress.Item) {
		switch {
		case it.Action == precompress.Failed:
			fmt.Fprintf(stderr, "weft precompress: %s: %v\n", shown(it.Sidecar()), it.Err)
		case o.check || o.verbose || it.Action == precompress.Orphan:
			fmt.Fprintln(stdout, describe(it))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	do := precompress.Run
	if o.check {
		do = precompress.Check
	}
	rep, err := do(ctx, cfg)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "weft precompress: interrupted; what was written is whole, run it again to finish")
		return errReported
	}
	if err != nil {
		return err
	}
	if o.check {
		summarizeCheck(stdout, cfg.Dir, rep)
	} else {
		summarize(stdout, cfg.Dir, cfg.Codings, rep)
	}
	if rep.Errors > 0 || (o.check && rep.Problems() > 0) {
		return errReported
	}
	return nil
}

// describe is an item's line: what happened, then the sidecar.
func describe(it precompress.Item) string {
	line := fmt.Sprintf("%-8s %s", it.Action, shown(it.Sidecar()))
	switch it.Action {
	case precompress.Wrote:
		line += fmt.Sprintf("  %d → %d bytes (%s)", it.In, it.Out, percent(it.Out, it.In))
	case precompress.NoGain:
		line += "  not 5% smaller"
		if it.Stale {
			line += "; the stale sidecar removed"
		}
	case precompress.Removed:
		line += "  stale; " + shown(it.Name) + " earns no sidecar"
	case precompress.Orphan:
		line += "  no " + shown(it.Name) + " (--prune removes it)"
	case precompress.Pruned:
		line += "  no " + shown(it.Name)
	}
	return line
}

func summarize(w io.Writer, dir string, codings []codec.Coding, rep precompress.Report) {
	var sum precompress.Tally
	for _, c := range codings {
		t := rep.Coding[c]
		sum.UpToDate += t.UpToDate
		sum.Written += t.Written
		sum.NoGain += t.NoGain
		sum.Removed += t.Removed
	}
	fmt.Fprintf(w, "weft precompress: %s: %d files; sidecars: %d written, %d up to date, %d not worth writing, %d stale removed; orphans: %d kept, %d pruned; %d errors\n",
		dir, rep.Files, sum.Written, sum.UpToDate, sum.NoGain, sum.Removed, rep.Orphans, rep.Pruned, rep.Errors)
	for _, c := range codings {
		if t := rep.Coding[c]; t.Written > 0 {
			fmt.Fprintf(w, "  %-4s %d written: %d → %d bytes (%s)\n", c.Token(), t.Written, t.In, t.Out, percent(t.Out, t.In))
		}
	}
}

func summarizeCheck(w io.Writer, dir string, rep precompress.Report) {
	if rep.Problems() == 0 {
		fmt.Fprintf(w, "weft precompress --check: %s: the sidecars of %d files are up to date\n", dir, rep.Files)
		return
	}
	fmt.Fprintf(w, "weft precompress --check: %s: %d stale, %d missing, %d orphan sidecars: run weft precompress\n",
		dir, rep.Stale, rep.Missing, rep.Orphans)
}

func percent(part, whole int64) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

// shown is a file name as printed: quoted when it holds a space, a quote
// or a byte that would break the line.
func shown(name string) string {
	if q := strconv.Quote(name); q[1:len(q)-1] != name || strings.ContainsAny(name, " \"") {
		return q
	}
	return name
}
