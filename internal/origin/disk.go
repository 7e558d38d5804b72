package origin

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// disk caches large objects as sparse files beneath one folder, filled
// segment by segment by ranged GETs, within a byte budget (each object
// charged its whole size when first opened). A file is open only while
// some reader holds its object (the site's cache of open files counts
// as one), so descriptors follow the readers, not the objects cached.
// The least recently used objects (opened, or sent whole from disk) are
// evicted first: their files are removed at once, and closed when the
// last reader lets go (an open descriptor keeps a removed file's bytes
// until then, so readers in flight are never cut); those bytes are
// counted as held until then, and pressed is called so that holders not
// reading let go.
type disk struct {
	parent string // where dir is made
	dir    string // made by the first object, "" until then
	max    int64

	mu    sync.Mutex
	objs  map[string]*object
	bytes int64         // of the objects indexed
	held  int64         // of the objects evicted but still held open
	tick  atomic.Uint64 // the clock of use: bumped by each open, and by each send of a local file (see DiskFile.Local)

	// pressed, when set, is called (without mu) after an acquire
	// evicted objects still held: their holders should let go of
	// those whose Evicted says so.
	pressed atomic.Pointer[func()]
}

// object is one large object's cache file.
type object struct {
	id   string
	file string // its cache file's name: one per object, even of one id
	f    *os.File
	size int64
	seg  int64         // segment size
	have []atomic.Bool // segments on disk
	left atomic.Int64  // segments missing

	// Under disk.mu.
	refs int
	used atomic.Uint64 // the tick of its last use (see disk.tick)
	gone atomic.Bool   // evicted: no longer in objs (read without mu by Evicted)
	over bool          // larger than the budget: evicted once no one holds it
}

// openDisk returns a cache that makes a folder of its own beneath dir
// (the system's temporary folder when empty) for its first object, so
// as the user weft runs as once it has switched users, and removes it on
// close.
func openDisk(dir string, max int64) *disk {
	return &disk{parent: dir, max: max, objs: make(map[string]*object)}
}

// mkdirLocked makes the cache's folder, once.
func (d *disk) mkdirLocked() error {
	if d.dir != "" {
		return nil
	}
	if d.parent != "" {
		if err := os.MkdirAll(d.parent, 0o700); err != nil {
			return fmt.Errorf("origin cache: %w", err)
		}
	}
	dir, err := os.MkdirTemp(d.parent, "weft-origin-")
	if err != nil {
		return fmt.Errorf("origin cache: %w", err)
	}
	d.dir = dir
	return nil
}

func (d *disk) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range d.objs {
		d.evictLocked(o)
	}
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}

// DiskBytes is what the cache of large objects holds on disk.
func (s *Store) DiskBytes() int64 {
	d := s.disk
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bytes + d.held
}

// acquire returns the cache file of object id, of size bytes, making it
// (sparse, empty) when absent, opening it again when no one held it;
// release lets it go.
func (d *disk) acquire(id string, size, seg int64) (*object, error) {
	o, held, err := d.acquireLocked(id, size, seg)
	if held {
		if fn := d.pressed.Load(); fn != nil {
			(*fn)()
		}
	}
	return o, err
}

// acquireLocked is acquire under mu; held: it evicted objects still held.
func (d *disk) acquireLocked(id string, size, seg int64) (o *object, held bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.tick.Add(1)
	if o := d.objs[id]; o != nil {
		if o.refs == 0 {
			if o.f, err = os.OpenFile(filepath.Join(d.dir, o.file), os.O_RDWR, 0); err != nil {
				d.evictLocked(o) // removed beneath it: made again below
			}
		}
		if err == nil {
			o.refs++
			o.used.Store(now)
			return o, false, nil
		}
	}
	for size <= d.max && d.bytes+size > d.max {
		var v *object
		for _, o := range d.objs {
			if v == nil || o.used.Load() < v.used.Load() {
				v = o
			}
		}
		if v == nil {
			break // all the rest still held: charged until let go
		}
		held = held || v.refs > 0
		d.evictLocked(v)
	}
	if err := d.mkdirLocked(); err != nil {
		return nil, held, err
	}
	file := id + "." + strconv.FormatUint(now, 36)
	p := filepath.Join(d.dir, file)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, held, err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		os.Remove(p)
		return nil, held, err
	}
	n := (size + seg - 1) / seg
	// Larger than the whole budget: indexed only while held, so that
	// the clients it has at once share one file and one fetch.
	o = &object{id: id, file: file, f: f, size: size, seg: seg, have: make([]atomic.Bool, n), refs: 1, over: size > d.max}
	o.used.Store(now)
	o.left.Store(n)
	d.bytes += size
	d.objs[id] = o
	return o, held, nil
}

// evictLocked takes o out of the index and removes its file; its bytes
// are counted as held, and its descriptor stays open, until the last
// reader lets go.
func (d *disk) evictLocked(o *object) {
	delete(d.objs, o.id)
	d.bytes -= o.size
	o.gone.Store(true)
	os.Remove(filepath.Join(d.dir, o.file))
	if o.refs == 0 {
		d.closeLocked(o)
	} else {
		d.held += o.size
	}
}

// closeLocked closes o's file, no longer held.
func (d *disk) closeLocked(o *object) {
	if o.f != nil {
		o.f.Close()
		o.f = nil
	}
}

func (d *disk) release(o *object) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch o.refs--; {
	case o.refs > 0:
	case o.over && !o.gone.Load():
		d.evictLocked(o)
	case o.gone.Load():
		d.held -= o.size // an evicted object's bytes are free now
		d.closeLocked(o)
	default:
		d.closeLocked(o)
	}
}

// DiskFile is a large object, read through its cache file: ranges missing
// on disk are fetched first, a segment at a time (concurrent readers of
// one segment share one ranged GET), so the bytes it hands out are always
// the object's. Its descriptor may be sent with sendfile for any range
// Fetch has returned for.
type DiskFile struct {
	s    *Store
	info *Info
	o    *object
}

func (f *DiskFile) Stat() (fs.FileInfo, error) { return f.info, nil }

// Fd is the cache file's descriptor.
func (f *DiskFile) Fd() uintptr { return f.o.f.Fd() }

// Close lets the cache file go.
func (f *DiskFile) Close() error {
	f.s.disk.release(f.o)
	return nil
}

// Local is the cache file when every byte is on it, else nil: a reader
// of it needs no store. It stays open until f is closed. It counts as a
// use of the object (see disk.tick).
func (f *DiskFile) Local() *os.File {
	if f.o.left.Load() != 0 {
		return nil
	}
	// A send of it is a use: an object sent from the site's cache of
	// open files, never opened again, is not the least recently used.
	f.o.used.Store(f.s.disk.tick.Add(1))
	return f.o.f
}

// Evicted reports whether the disk cache has let the object go, or will
// once no one holds it (larger than the budget): its bytes stay on disk
// only while it is held, so a holder that would keep it for later (the
// site's cache) should not.
func (f *DiskFile) Evicted() bool { return f.o.over || f.o.gone.Load() }

// Complete reports whether every byte is on disk: reads need no store.
func (f *DiskFile) Complete() bool { return f.o.left.Load() == 0 }

// ReadAt fetches what is missing of [off, off+len(p)), then reads it.
func (f *DiskFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.Fetch(off, int64(len(p))); err != nil {
		return 0, err
	}
	return f.o.f.ReadAt(p, off)
}

// Fetch makes [off, off+n) of the object local. It may block on the
// store: never call it on an event loop.
func (f *DiskFile) Fetch(off, n int64) error {
	o := f.o
	if o.left.Load() == 0 || n <= 0 {
		return nil
	}
	end := min(off+n, o.size)
	for i := off / o.seg; i*o.seg < end; i++ {
		if o.have[i].Load() {
			continue
		}
		if f.s.down.Load() {
			return ErrUnavailable
		}
		// Keyed by the cache file, not the object's id: an object evicted
		// and acquired again has a new file, which a GET still filling the
		// evicted one does not fill.
		_, err, _ := f.s.flight.Do(fmt.Sprintf("s\x00%s\x00%d", o.file, i), func() (any, error) {
			if o.have[i].Load() {
				return nil, nil
			}
			start := i * o.seg
			b, err := f.s.getRange(f.info, start, min(o.seg, o.size-start))
			if err != nil {
				return nil, err
			}
			if _, err := o.f.WriteAt(b, start); err != nil {
				return nil, err
			}
			o.have[i].Store(true)
			o.left.Add(-1)
			return nil, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
