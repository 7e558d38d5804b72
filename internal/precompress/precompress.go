// Package precompress writes precompressed sidecars (app.js.br, app.js.zst
// and app.js.gz beside app.js) once, at deploy time, at the strongest levels
// (brotli 11, zstd's best, gzip 9), for the server to send to clients that
// accept them; and it checks whether a tree's sidecars are up to date. All
// its file access goes through an os.Root on the tree: nothing outside it
// is read or written, and symbolic links are not followed.
//
// The rules, which `weft precompress --help` and the README repeat:
//
//   - An original is a regular file, not a symbolic link, whose name and
//     whose folders' names do not begin with "." (".well-known" excepted,
//     as the server serves it), whose content type by extension matches
//     Config.Types, and whose name does not end in a sidecar suffix (.br,
//     .zst, .gz). It is eligible when it is at least MinBytes long.
//   - A sidecar is fresh when it is not older than its original (its
//     modification time is not before the original's): the server's rule
//     for sending it. A sidecar written here gets its original's
//     modification time and permission bits (and, run as root, its owner),
//     so a second run finds it fresh and writes nothing.
//   - A sidecar is written only when it is at least 5% smaller than its
//     original. An original that does not shrink enough is remembered, by
//     size and modification time, in DIR/.weft-nogain, so later runs do not
//     compress it again and Check does not count its sidecar as missing.
//   - A stale sidecar (older than its original) is replaced, or removed
//     when its original earns no sidecar (too small, or no gain).
//   - An orphan is X.br, X.zst or X.gz (of a selected coding) where no X
//     exists and X would be an original by name and type. Check lists
//     orphans; Run reports them and removes them only with Prune, since a
//     name like dump.json.gz may be a download in its own right.
//   - Check writes nothing and lists stale sidecars, orphans and missing
//     sidecars: those of eligible originals that have none and are not
//     remembered as not shrinking.
package precompress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/weft-server/weft/internal/codec"
)

// DefaultMinBytes is the smallest original compressed by default: below a
// kilobyte, a response's headers outweigh what compression saves.
const DefaultMinBytes = 1024

// NoGainFile, in the tree's top folder, lists the originals that did not
// shrink by 5% in some coding, each with the size and modification time it
// had then. Deleting it makes the next run try them again. Its name begins
// with a dot, so the server does not serve it.
const NoGainFile = ".weft-nogain"

// keepPercent is the most a sidecar may weigh, in percent of its original.
const keepPercent = 95

// Config says what to precompress. The zero value of each field but Dir
// means its default.
type Config struct {
	Dir      string
	Codings  []codec.Coding // the codings to write; nil: all of codec.Encoded
	Types    string         // compressible media types (codec.ParseTypes syntax); "": codec.DefaultTypes
	MinBytes int64          // smallest eligible original; 0 means every size
	Jobs     int            // files compressed at once; 0: GOMAXPROCS
	Force    bool           // Run: rewrite every eligible original's sidecars, fresh or not
	Prune    bool           // Run: remove orphans
	// Progress, when set, is called for every Item but those already up
	// to date, one call at a time, from the goroutine that called Run or
	// Check.
	Progress func(Item)
}

// settings is a Config validated, with its defaults applied.
type settings struct {
	codings  []codec.Coding
	types    codec.Types
	minBytes int64
	jobs     int
}

// Validate reports whether c is usable, without touching the file system.
func (c Config) Validate() error {
	_, err := c.settings()
	return err
}

func (c Config) settings() (settings, error) {
	s := settings{codings: c.Codings, minBytes: c.MinBytes, jobs: c.Jobs}
	if c.Dir == "" {
		return s, errors.New("weft: no folder to precompress")
	}
	if len(s.codings) == 0 {
		s.codings = codec.Encoded[:]
	}
	for i, k := range s.codings {
		if !slices.Contains(codec.Encoded[:], k) || slices.Contains(s.codings[:i], k) {
			return s, fmt.Errorf("weft: codings %v: each of br, zstd and gzip at most once", s.codings)
		}
	}
	list := c.Types
	if list == "" {
		list = codec.DefaultTypes
	}
	var err error
	if s.types, err = codec.ParseTypes(list); err != nil {
		return s, fmt.Errorf("weft: %w", err)
	}
	if s.minBytes < 0 || s.jobs < 0 {
		return s, errors.New("weft: MinBytes and Jobs must not be negative")
	}
	if s.jobs == 0 {
		s.jobs = runtime.GOMAXPROCS(0)
	}
	return s, nil
}

// ParseCodings parses a comma-separated list of coding tokens ("br,zstd,gzip").
func ParseCodings(list string) ([]codec.Coding, error) {
	var out []codec.Coding
	for _, tok := range strings.Split(list, ",") {
		tok = strings.ToLower(strings.TrimSpace(tok))
		if tok == "" {
			continue
		}
		i := slices.IndexFunc(codec.Encoded[:], func(c codec.Coding) bool { return c.Token() == tok })
		if i < 0 {
			return nil, fmt.Errorf("weft: unknown coding %q (br, zstd, gzip)", tok)
		}
		if !slices.Contains(out, codec.Encoded[i]) {
			out = append(out, codec.Encoded[i])
		}
	}
	if len(out) == 0 {
		return nil, errors.New("weft: no codings (br, zstd, gzip)")
	}
	return out, nil
}

// Action is what a run did, or a check found, about one sidecar.
type Action uint8

const (
	Wrote   Action = iota + 1 // Run: a sidecar written (Stale: over a stale one)
	NoGain                    // Run: not 5% smaller, no sidecar (Stale: the stale one removed)
	Removed                   // Run: a stale sidecar removed; its original earns none
	Orphan                    // a sidecar of no original, left in place
	Pruned                    // Run with Prune: an orphan removed
	Stale                     // Check: a sidecar older than its original
	Missing                   // Check: an eligible original without the sidecar
	Failed                    // Err says why
)

var actionNames = [...]string{Wrote: "wrote", NoGain: "no gain", Removed: "removed", Orphan: "orphan",
	Pruned: "pruned", Stale: "stale", Missing: "missing", Failed: "failed"}

func (a Action) String() string {
	if int(a) < len(actionNames) && actionNames[a] != "" {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", a)
}

// Item is one sidecar's outcome.
type Item struct {
	Name    string       // the original's path beneath Dir, slash-separated
	Coding  codec.Coding // codec.Identity when Err is about Name itself (a folder, NoGainFile)
	Action  Action
	Stale   bool  // Wrote, NoGain: a stale sidecar was replaced or removed
	In, Out int64 // Wrote: the original's size and the sidecar's
	Err     error // Failed
}

// Sidecar is the sidecar's path beneath Dir (Name itself for codec.Identity).
func (it Item) Sidecar() string { return it.Name + it.Coding.Ext() }

// Report sums up a run or a check.
type Report struct {
	Files                   int            // eligible originals
	Coding                  [codec.N]Tally // by coding
	Orphans, Pruned, Errors int
	Stale, Missing          int // Check
}

// Tally counts one coding's sidecars.
type Tally struct {
	UpToDate int   // fresh, or remembered as not shrinking: nothing to do
	Written  int   // written by Run
	NoGain   int   // compressed by Run, not 5% smaller
	Removed  int   // stale ones removed by Run
	In, Out  int64 // bytes of the originals compressed into Written sidecars, and of those sidecars
}

// Problems counts what Check found: stale, missing and orphan sidecars.
func (r *Report) Problems() int { return r.Stale + r.Missing + r.Orphans }

func (r *Report) count(it Item) {
	t := &r.Coding[it.Coding]
	switch it.Action {
	case Wrote:
		t.Written++
		t.In += it.In
		t.Out += it.Out
	case NoGain:
		t.NoGain++
		if it.Stale {
			t.Removed++
		}
	case Removed:
		t.Removed++
	case Orphan:
		r.Orphans++
	case Pruned:
		r.Pruned++
	case Stale:
		r.Stale++
	case Missing:
		r.Missing++
	case Failed:
		r.Errors++
	}
}

// Run brings the sidecars beneath cfg.Dir up to date, as the package
// documentation says. A failure about one file is an Item (Report.Errors
// counts them) and the rest go on; the error returned is about the whole
// run: a bad Config, a Dir that cannot be opened, ctx ended.
func Run(ctx context.Context, cfg Config) (Report, error) {
	return visit(ctx, cfg, false)
}

// Check writes nothing: it reports every stale, missing and orphan sidecar
// as an Item to cfg.Progress and in Report.Problems. Force and Prune are
// ignored.
func Check(ctx context.Context, cfg Config) (Report, error) {
	cfg.Force, cfg.Prune = false, false
	return visit(ctx, cfg, true)
}

func visit(ctx context.Context, cfg Config, check bool) (Report, error) {
	var rep Report
	s, err := cfg.settings()
	if err != nil {
		return rep, err
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return rep, fmt.Errorf("weft: cannot precompress %s: %w", cfg.Dir, err)
	}
	defer root.Close()
	emit := func(it Item) {
		rep.count(it)
		if cfg.Progress != nil {
			cfg.Progress(it)
		}
	}
	known, err := readNoGain(root)
	if err != nil {
		emit(Item{Name: NoGainFile, Action: Failed, Err: err})
	}
	p := &planner{fsys: root.FS(), set: s, force: cfg.Force, known: known, rep: &rep, emit: emit}
	p.walk(".")
	if check {
		for _, t := range p.tasks {
			emit(t.finding())
		}
		return rep, ctx.Err()
	}
	w := &worker{root: root, prune: cfg.Prune}
	next := p.nextNoGain()
	for res := range w.runAll(ctx, p.tasks, s.jobs) {
		if res.Action == Failed && ctx.Err() != nil && errors.Is(res.Err, ctx.Err()) {
			continue // cut short: the error returned says so once
		}
		emit(res.Item)
		res.remember(next)
	}
	if err := writeNoGain(root, known, next); err != nil {
		emit(Item{Name: NoGainFile, Action: Failed, Err: err})
	}
	return rep, ctx.Err()
}

// ctxReader ends a long compression when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
