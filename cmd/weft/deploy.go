package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/deploy"
	"github.com/weft-server/weft/internal/manifest"
	"github.com/weft-server/weft/internal/s3conn"
	"github.com/weft-server/weft/internal/site"
)

const deployLong = `Uploads DIR to an S3-compatible object store as a new, immutable version of
the site, then switches the store's pointer to it: every weft serving
s3://BUCKET/PREFIX (weft serve s3://BUCKET/PREFIX) moves to the new version
at once, between two requests.

A file's bytes are stored once, as an object named by their SHA-256: what an
earlier version holds already is not uploaded again. The version's manifest
is written once every object is in place, and the pointer, one small object,
is switched last, so the store never points to a version with a file
missing. A file that changes while it is read or uploaded fails the deploy
before its bytes are stored, and the pointer stays where it was.

What is uploaded is what weft serve DIR would let a request reach: dotfiles
only with --dotfiles (.well-known always), symbolic links as --symlinks
allows, precompressed sidecars (.br, .zst, .gz) included.

--list shows the versions, --rollback VERSION switches back to one (after
checking that its manifest and every object it names are there), and --keep N
deletes the manifests beyond the N newest (never the current one), then the
objects no version kept names: only those older than --grace, so that a
deploy running elsewhere, which uploads its objects before it writes its
manifest, never loses one.

The store: --s3-endpoint (default Amazon S3), --s3-region, --s3-path-style;
credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_SESSION_TOKEN, or a shared credentials file (--s3-credentials-file,
--s3-profile, which win over those variables; else ~/.aws/credentials when
there is one).

Exit status: 0 done; 1 failed (the pointer names what it named before, but
after a switch the store did not answer: the error says so); 2 bad usage.`

const deployExample = `  export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…
  weft deploy ./public s3://sites/www --s3-endpoint http://127.0.0.1:7070 --s3-path-style
  weft deploy ./public s3://sites/www --keep 5     # then delete what is older than the 5 newest
  weft deploy ./public s3://sites/www --dry-run    # what would be uploaded
  weft deploy --list s3://sites/www
  weft deploy --rollback 20261202T001500Z-3fa2c1d0 s3://sites/www
  weft deploy --keep 5 s3://sites/www`

// deployOpts are weft deploy's flags.
type deployOpts struct {
	list      bool
	rollback  string
	keep      int
	grace     time.Duration
	dryRun    bool
	jobs      int
	dotfiles  bool
	symlinks  string
	store     s3conn.Options
	keepGiven bool
}

func newDeployCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:               "deploy [flags] DIR s3://BUCKET/PREFIX",
		Short:             "Upload DIR to an object store as a new version and switch every server to it",
		Long:              deployLong,
		Example:           deployExample,
		ValidArgsFunction: completeDir,
	}
	var o deployOpts
	fs := c.Flags()
	fs.SortFlags = false
	fs.BoolVar(&o.list, "list", false, "list the versions, newest first, and which one is current")
	fs.StringVar(&o.rollback, "rollback", "", "switch back to `VERSION` (an ID --list shows), once its manifest and objects are found")
	fs.IntVar(&o.keep, "keep", 0, "keep the `N` newest versions and the current one: delete the other manifests, then the objects no version kept names")
	fs.DurationVar(&o.grace, "grace", deploy.DefaultGrace, "with --keep: leave objects younger than this, which a deploy running elsewhere may be about to name")
	fs.BoolVar(&o.dryRun, "dry-run", false, "say what would be uploaded or deleted; write nothing")
	fs.IntVarP(&o.jobs, "jobs", "j", deploy.DefaultJobs, "files uploaded at once")
	fs.BoolVar(&o.dotfiles, "dotfiles", false, "upload files and folders whose names begin with a dot, as weft serve --dotfiles serves them")
	fs.StringVar(&o.symlinks, "symlinks", site.SymlinksConfine, keyHelp("symlinks"))
	o.store.AddFlags(fs)
	c.RegisterFlagCompletionFunc("symlinks", fixedChoices(site.SymlinksConfine, site.SymlinksFollow, site.SymlinksDeny))
	c.MarkFlagFilename("s3-credentials-file")
	c.RunE = func(c *cobra.Command, args []string) error {
		o.keepGiven = c.Flags().Changed("keep")
		return runDeploy(c, o, args, stdout, stderr)
	}
	return c
}

// keyHelp is the help of the configuration key name, for a command that
// takes it as a flag of its own.
func keyHelp(name string) string {
	for i := range config.Keys {
		if config.Keys[i].Name == name {
			return config.Keys[i].Help
		}
	}
	panic("no configuration key " + name)
}

// runDeploy runs weft deploy: a deploy, --list, --rollback or --keep.
func runDeploy(c *cobra.Command, o deployOpts, args []string, stdout, _ io.Writer) error {
	usage := func(format string, a ...any) error {
		return &usageError{cmd: c, err: fmt.Errorf(format, a...)}
	}
	alone := o.list || o.rollback != ""
	switch {
	case o.list && o.rollback != "":
		return usage("--list and --rollback go alone")
	case alone && (o.keepGiven || o.dryRun):
		return usage("--list and --rollback take no --keep or --dry-run")
	case o.keepGiven && o.keep < 1:
		return usage("--keep %d: keep at least 1 version", o.keep)
	case o.jobs < 1:
		return usage("--jobs %d: upload at least 1 file at once", o.jobs)
	case o.grace < 0:
		return usage("--grace %v must not be negative", o.grace)
	case !slices.Contains([]string{site.SymlinksConfine, site.SymlinksFollow, site.SymlinksDeny}, o.symlinks):
		return usage("--symlinks %q: want confine, follow or deny", o.symlinks)
	case len(args) == 0:
		return usage("no s3://BUCKET/PREFIX: give the folder and where to deploy it (weft deploy DIR s3://BUCKET/PREFIX)")
	case (alone || o.keepGiven) && len(args) == 1:
	case alone && len(args) != 1:
		return usage("--list and --rollback take one s3://BUCKET/PREFIX, no DIR; got %q", args)
	case len(args) != 2:
		return usage("want DIR and s3://BUCKET/PREFIX, got %q", args)
	}
	if o.rollback != "" && !manifest.ValidID(o.rollback) {
		return usage("--rollback %q: not a version ID (weft deploy --list shows them)", o.rollback)
	}
	dir := ""
	if len(args) == 2 {
		dir = args[0]
		if s3conn.IsURL(dir) {
			return usage("DIR %q is an s3:// URL: deploy a folder (weft deploy DIR s3://BUCKET/PREFIX)", dir)
		}
	}
	loc, err := s3conn.ParseURL(args[len(args)-1])
	if err != nil {
		return usage("%v", err)
	}
	o.store.Env = os.Environ()
	client, err := o.store.Client()
	if err != nil {
		return fmt.Errorf("weft deploy: %w", err)
	}
	st := deploy.Store{Client: client, Loc: loc}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch {
	case o.list:
		return listVersions(ctx, st, stdout)
	case o.rollback != "":
		if _, err := deploy.Rollback(ctx, st, o.rollback, stdout); err != nil {
			return deployErr(err)
		}
		return nil
	}
	deployed, previous := "", "" // the versions a deploy switched to and from, before a --keep
	if dir != "" {
		sc := site.Config{Root: dir, Dotfiles: o.dotfiles, Symlinks: o.symlinks}
		res, err := deploy.Deploy(ctx, st, deploy.Options{Site: sc, Jobs: o.jobs, DryRun: o.dryRun, Log: stdout})
		if err != nil {
			return deployErr(err)
		}
		if !o.dryRun {
			fmt.Fprintf(stdout, "weft deploy: done: %s\n", res.Summary(loc))
			deployed, previous = res.ID, res.Previous
		}
	}
	if o.keepGiven {
		_, err := deploy.Collect(ctx, st, deploy.CollectOptions{Keep: o.keep, Previous: previous, Grace: o.grace, DryRun: o.dryRun, Log: stdout})
		switch {
		case err != nil && deployed != "":
			// The pointer did move: a failure must not read as a deploy's.
			if errors.Is(err, context.Canceled) {
				err = errors.New("interrupted")
			}
			return fmt.Errorf("weft deploy: --keep: %w (the deploy is done: %s is on version %s)", err, loc, deployed)
		case err != nil:
			return deployErr(err)
		}
	}
	return nil
}

// deployErr is a failure of weft deploy, in one line.
func deployErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return errors.New("weft deploy: interrupted; the pointer names what it named before")
	}
	return fmt.Errorf("weft deploy: %w", err)
}

// listVersions prints the store's versions, newest first.
func listVersions(ctx context.Context, st deploy.Store, stdout io.Writer) error {
	l, err := deploy.List(ctx, st)
	if err != nil {
		return deployErr(err)
	}
	vs, cur := l.Versions, l.Current
	if len(vs) == 0 {
		fmt.Fprintf(stdout, "%s holds no version yet: weft deploy DIR %s makes one\n", st.Loc, st.Loc)
		return nil
	}
	fmt.Fprintf(stdout, "%-26s %-20s %8s %14s\n", "VERSION", "CREATED (UTC)", "FILES", "BYTES")
	found := false
	for _, v := range vs {
		if v.Err != nil {
			fmt.Fprintf(stdout, "%-26s damaged: %v\n", v.ID, v.Err)
			continue
		}
		mark := ""
		if v.Current {
			mark, found = "  current", true
		}
		fmt.Fprintf(stdout, "%-26s %-20s %8d %14d%s\n", v.ID, v.Created.UTC().Format("2006-01-02 15:04:05"), v.Files, v.Bytes, mark)
	}
	switch {
	case l.PointerErr != nil:
		fmt.Fprintln(stdout, l.PointerErr)
	case cur == "":
		fmt.Fprintln(stdout, "no version is current: weft deploy --rollback VERSION switches to one")
	case !found:
		fmt.Fprintf(stdout, "the current version, %s, has no manifest: weft deploy --rollback VERSION switches to one that has\n", cur)
	}
	return nil
}
