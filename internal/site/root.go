package site

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/origin"
)

// A root is where a site's files come from: a directory (os.Root and
// openat2, see open_linux.go and symlinks.go) or an object store (an
// s3:// root, see package origin). The site reads either through the same
// small surface: open and stat a name, read an open file at an offset,
// read a folder's entries. A file's descriptor, when it has one, is only
// a fast path (sendfile); a file without one is read with ReadAt.

// File is an open file or folder beneath the root: an *os.File, or a
// file of the object store.
type File interface {
	io.ReaderAt
	io.Closer
	Stat() (fs.FileInfo, error)
}

// fetcher is a file whose bytes may not be local yet (a large object of
// the store): Fetch makes a range local, blocking on the store, and
// Complete reports whether all of it is. A range is fetched before it is
// planned as a body, on the disk path, so an engine's reads never wait
// for the store; an entry not yet complete is not answered from memory
// (see ServeFromMemory).
type fetcher interface {
	Fetch(off, n int64) error
	Complete() bool
}

// localFile is a file of the store whose bytes may all be on local disk
// (see origin.DiskFile): Local is then that disk file, else nil.
type localFile interface {
	Local() *os.File
}

// sendable is what a response sends e's file as: the local *os.File of
// a large object all on disk, as for a file of a directory, so that an
// engine's sendfile treats both alike (see evloop's warmFiles); else the
// file itself. The entry's reference keeps either open.
func (e *entry) sendable() http1.File {
	if l, ok := e.file.(localFile); ok {
		if f := l.Local(); f != nil {
			return f
		}
	}
	return e.file
}

// evictable is a file of the store whose bytes the disk cache may let go
// of while it is open (see origin.DiskFile): they stay on disk until it
// is closed.
type evictable interface {
	Evicted() bool
}

// evicted reports whether e's file, or a representation's, is a large
// object the store's disk cache has evicted: e should leave the cache.
func (e *entry) evicted() bool {
	if f, ok := e.file.(evictable); ok && f.Evicted() {
		return true
	}
	for i := range e.reps {
		if r := e.reps[i].Load(); r != nil && r != e && r.evicted() {
			return true
		}
	}
	return false
}

// objectInfo is what a FileInfo of the store tells beyond fs.FileInfo,
// through its Sys (see origin.Info).
type objectInfo interface {
	Identity() string
	ContentSum() ([16]byte, bool)
	Generation() uint64
}

// openRoot opens name beneath the root.
func (s *Site) openRoot(name string) (File, error) {
	if s.store != nil {
		return s.store.Open(name)
	}
	f, err := s.openFile(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// openStore opens the object store cfg.Root names, for Open.
func (st *Site) openStore(cfg Config, types map[string]string) (*Site, error) {
	if cfg.Upload.On {
		return nil, fmt.Errorf("weft: uploads need a folder: the root %s is an object store", cfg.Root)
	}
	oc := cfg.Origin
	oc.MemoryMax = -1
	if cfg.Cache.MaxBytes >= 0 {
		oc.MemoryMax = cfg.Cache.MaxFile
		if oc.MemoryMax <= 0 {
			oc.MemoryMax = 32 << 10 // the cache's default (see newCache)
		}
	}
	store, err := origin.Open(cfg.Root, oc)
	if err != nil {
		return nil, err
	}
	cfg.Cache.NoWatch = true // nothing to watch: the store is polled
	st.cfg, st.store, st.types, st.reps = cfg, store, types, newReps(cfg.Compress)
	st.cache = newCache(cfg.Cache, "")
	st.cache.gen = store.Generation
	store.OnSwitch(func() { st.cache.invalidate("") })
	store.OnEvict(st.cache.dropEvicted)
	st.cache.recheck = st.recheck
	st.cache.refresh = st.confirm
	if err := st.checkFiles(); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// modUnknown is a listing row's mod when its time is not known.
const modUnknown = math.MinInt64

// readStoreDir lists the store's folder f into l (see readDir): every
// entry comes with its type, size and time.
func (s *Site) readStoreDir(l *dirList, f File, name string, sidecars bool) ([]int, error) {
	d, ok := f.(interface {
		ReadDir(int) ([]fs.DirEntry, error)
	})
	if !ok {
		return nil, errors.New("weft: not a folder")
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]fs.FileInfo, len(ents))
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			byName[e.Name()] = fi
		}
	}
	l.lstat = func(n string) (fileStat, error) {
		fi := byName[n]
		if fi == nil {
			return fileStat{}, fs.ErrNotExist
		}
		mod := int64(modUnknown) // a plain-mode folder: a prefix of keys, with no time of its own
		if t := fi.ModTime(); !t.IsZero() {
			mod = t.UnixNano()
		}
		return fileStat{mode: fi.Mode().Type(), size: fi.Size(), mod: mod}, nil
	}
	var named []int
	for _, e := range ents {
		if s.addEntry(l, name, e.Name(), 0, false) && !sidecars {
			named = append(named, len(l.rows)-1)
		}
	}
	return named, nil
}

// ensure makes [off, off+n) of e's file local when it is an object not
// yet all on disk; false when the store cannot give it.
func (e *entry) ensure(off, n int64) bool {
	if e.body != nil || e.file == nil {
		return true
	}
	f, ok := e.file.(fetcher)
	return !ok || f.Fetch(off, n) == nil
}

// partial reports whether e's file has bytes not local yet: e may not be
// sent from an event loop.
func (e *entry) partial() bool {
	if e.body != nil || e.file == nil {
		return false
	}
	f, ok := e.file.(fetcher)
	return ok && !f.Complete()
}

// recheck is the cache's recheck for an object store: an entry past its
// validity is served from memory while one goroutine confirms it (see
// confirm), instead of sending every request for it to the disk path,
// where a slow store's misses hold the workers. Not while the store
// fails: the disk path then answers at once, within the stale bound.
// Called under the cache shard's read lock: e stays valid to acquire.
func (s *Site) recheck(e *entry) bool {
	if s.store.Down() {
		return false
	}
	s.confirm(e)
	return true
}

// confirm checks, on a goroutine of its own, that e's file and its
// sidecars are as they were when e was read (a stat of each, which may
// wait on the disk or the store): if so, e is fresh for another Validity
// from the check's start; if not, it is dropped. The cache asks for it
// when a fresh entry has lived half its validity (refresh), so that a
// file in demand is confirmed before its entry expires, by one check,
// instead of by every request that finds it expired going the disk path
// at once (with 256 clients on a 1 KiB page, some 80 requests a second
// did, each opening the file and its three sidecars). At most one check
// per entry runs: false when one is under way. Called under the cache
// shard's read lock: e stays valid to acquire.
func (s *Site) confirm(e *entry) bool {
	if !e.recheck.CompareAndSwap(false, true) {
		return false
	}
	e.acquire()
	go func() {
		defer e.Close()
		defer e.recheck.Store(false)
		start := time.Now()
		if !s.unchanged(e) {
			if s.store == nil || !s.store.Down() { // else kept for the disk path, within the stale bound
				s.cache.drop(e)
			}
			return
		}
		e.checked.Store(start.UnixNano())
	}()
	return true
}

// unchanged reports whether e's file and sidecars are as e has them, and
// whether e's key still names that file (see stillNamed).
func (s *Site) unchanged(e *entry) bool {
	if !s.stillNamed(e) {
		return false
	}
	var fi fs.FileInfo
	var err error
	if s.store != nil {
		fi, err = s.store.Stat(e.name)
	} else {
		var f File
		if f, fi, err = s.open(e.name); err == nil {
			f.Close()
		}
	}
	return err == nil && fi.Mode().IsRegular() && e.sameFile(fi) && s.sidecarsSame(e)
}

// stillNamed reports whether a request for e's key would still be served
// e's file, as far as the file's own metadata cannot tell: a clean URL's
// page (key "about" or "about/", file "about.html") is served only while
// nothing named "about" exists (see serveName). A file or folder that
// appears under that name is nothing a confirmation of about.html sees,
// nor anything the watcher reports about a cached file. A key that is
// the file's name, or a folder's with its index, is named by the file.
func (s *Site) stillNamed(e *entry) bool {
	k := strings.TrimSuffix(e.key, "/")
	if k == e.name || e.name != k+".html" {
		return true
	}
	var err error
	if s.store != nil {
		_, err = s.store.Stat(k) // not Open: a large object would be fetched
	} else {
		var f File
		if f, _, err = s.open(k); err == nil {
			f.Close()
		}
	}
	return errors.Is(err, fs.ErrNotExist)
}
