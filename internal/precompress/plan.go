package precompress

import (
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/site"
)

var errNotRegular = errors.New("weft: not a regular file; left alone")

// state is what one sidecar needs.
type state uint8

const (
	upToDate state = iota // nothing
	compress              // missing, stale or forced: compress the original
	drop                  // stale, and its original earns no sidecar: remove it
	orphan                // no original
)

// task is one sidecar that needs work.
type task struct {
	name   string       // the original's path
	coding codec.Coding //
	size   int64        // the original's, largest first so no core idles at the end
	stale  bool         // a stale sidecar is there
	state  state
}

// facts are what decides a sidecar's state.
type facts struct {
	eligible bool // the original is at least MinBytes
	noGain   bool // remembered as not shrinking at its present size and time
	force    bool
	present  bool // the sidecar exists
	stale    bool // and is older than its original
}

// isStale is the freshness rule, the server's: a sidecar older than its
// original is stale; one as old or newer is fresh.
func isStale(orig, side time.Time) bool { return side.Before(orig) }

// judge decides what a sidecar needs.
func judge(f facts) state {
	switch {
	case !f.eligible || (f.noGain && !f.force):
		if f.stale {
			return drop
		}
		return upToDate
	case !f.present || f.stale || f.force:
		return compress
	}
	return upToDate
}

// finding is what Check reports about a task.
func (t task) finding() Item {
	it := Item{Name: t.name, Coding: t.coding, Action: Stale}
	switch {
	case t.state == orphan:
		it.Action = Orphan
	case t.state == compress && !t.stale:
		it.Action = Missing
	}
	return it
}

// planner walks the tree, beneath the root, collecting tasks.
type planner struct {
	fsys  fs.FS
	set   settings
	force bool
	known noGain
	kept  []key // remembered no-gain pairs still true
	tasks []task
	rep   *Report
	emit  func(Item)
}

// walk visits folder dir: its files, then its subfolders. fs.ReadDir on
// an os.Root reports symbolic links as such, so none is followed.
func (p *planner) walk(dir string) {
	entries, err := fs.ReadDir(p.fsys, dir)
	if err != nil {
		p.emit(Item{Name: dir, Action: Failed, Err: err})
	}
	byName := make(map[string]fs.DirEntry, len(entries))
	for _, e := range entries {
		byName[e.Name()] = e
	}
	var subdirs []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, ".") && !(n == ".well-known" && e.IsDir()):
		case e.IsDir():
			subdirs = append(subdirs, path.Join(dir, n))
		case !e.Type().IsRegular():
		default:
			if c, ok := codec.ByExt(n); ok {
				p.sidecar(dir, n, c, byName)
			} else if p.set.types.Match(site.TypeOf(n)) {
				p.original(dir, e, byName)
			}
		}
	}
	for _, d := range subdirs {
		p.walk(d)
	}
}

// sidecar looks at a file named like a sidecar: an orphan when its
// original's name is free and would be an original's.
func (p *planner) sidecar(dir, name string, c codec.Coding, byName map[string]fs.DirEntry) {
	stem := strings.TrimSuffix(name, c.Ext())
	if _, ok := byName[stem]; ok || !slices.Contains(p.set.codings, c) || !p.set.types.Match(site.TypeOf(stem)) {
		return
	}
	p.tasks = append(p.tasks, task{name: path.Join(dir, stem), coding: c, state: orphan})
}

// original judges each selected coding's sidecar of the original e.
func (p *planner) original(dir string, e fs.DirEntry, byName map[string]fs.DirEntry) {
	name := path.Join(dir, e.Name())
	fi, err := e.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return // gone since the folder was read
	}
	if err != nil {
		p.emit(Item{Name: name, Action: Failed, Err: err})
		return
	}
	f := facts{eligible: fi.Size() >= p.set.minBytes, force: p.force}
	if f.eligible {
		p.rep.Files++
	}
	for _, c := range p.set.codings {
		f.present, f.stale = false, false
		if se, ok := byName[e.Name()+c.Ext()]; ok {
			if !se.Type().IsRegular() {
				p.emit(Item{Name: name, Coding: c, Action: Failed, Err: errNotRegular})
				continue
			}
			si, err := se.Info()
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				p.emit(Item{Name: name, Coding: c, Action: Failed, Err: err})
				continue
			}
			f.present = err == nil
			f.stale = f.present && isStale(fi.ModTime(), si.ModTime())
		}
		k := key{name, c}
		f.noGain = f.eligible && p.known.matches(k, fi)
		switch st := judge(f); st {
		case upToDate:
			if f.eligible {
				p.rep.Coding[c].UpToDate++
			}
			if f.noGain {
				p.kept = append(p.kept, k)
			}
		default:
			p.tasks = append(p.tasks, task{name: name, coding: c, size: fi.Size(), stale: f.stale, state: st})
		}
	}
}

// nextNoGain starts the no-gain list a run leaves: the pairs remembered
// and still true, and those of codings not selected this time. Results of
// the run add to it.
func (p *planner) nextNoGain() noGain {
	next := noGain{}
	for k, s := range p.known {
		if !slices.Contains(p.set.codings, k.coding) {
			next[k] = s
		}
	}
	for _, k := range p.kept {
		next[k] = p.known[k]
	}
	return next
}
