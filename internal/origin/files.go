package origin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/weft-server/weft/internal/manifest"
)

// File is an open file or folder of the root: what the site core reads
// of a directory's files too.
type File interface {
	io.ReaderAt
	io.Closer
	Stat() (fs.FileInfo, error)
}

// Info describes a file or folder of the root. It is its own Sys().
type Info struct {
	name string
	size int64
	mod  time.Time
	dir  bool
	key  string // the object holding the bytes
	etag string // the store's ETag (plain mode) or the content's SHA-256 (deploy mode)
	sum  []byte // the content's SHA-256, deploy mode only
	gen  uint64 // the generation it was read under
}

func (i *Info) Name() string       { return i.name }
func (i *Info) Size() int64        { return i.size }
func (i *Info) ModTime() time.Time { return i.mod }
func (i *Info) IsDir() bool        { return i.dir }
func (i *Info) Sys() any           { return i }
func (i *Info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

// Identity changes whenever the bytes do: the store's ETag with the key,
// or the content's hash.
func (i *Info) Identity() string { return i.key + "\x00" + i.etag }

// ContentSum returns the first 128 bits of the content's SHA-256 when it
// is known without reading (deploy mode).
func (i *Info) ContentSum() (sum [16]byte, ok bool) {
	if len(i.sum) != 32 {
		return sum, false
	}
	copy(sum[:], i.sum)
	return sum, true
}

// Generation is the Store's generation the file was opened under.
func (i *Info) Generation() uint64 { return i.gen }

// Stat describes name as Open would find it.
func (s *Store) Stat(name string) (fs.FileInfo, error) {
	i, err := s.stat(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return i, nil
}

// Open opens name (clean, slash-separated, "." for the root). It may
// block on the store: never call it on an event loop.
func (s *Store) Open(name string) (File, error) {
	i, err := s.stat(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	switch {
	case i.dir:
		return &dirFile{s: s, info: i, name: name}, nil
	case s.cfg.MemoryMax >= 0 && i.size <= s.cfg.MemoryMax:
		return &memFile{s: s, info: i}, nil
	}
	o, err := s.disk.acquire(objectID(i), i.size, s.cfg.SegmentBytes)
	if err != nil {
		// Not the object's absence or a client's lack of right, whatever
		// the folder's error says: %v drops its identity.
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: %v", ErrCache, err)}
	}
	return &DiskFile{s: s, info: i, o: o}, nil
}

// objectID names an object's bytes in the disk cache: by hash in deploy
// mode, by key and ETag otherwise.
func objectID(i *Info) string {
	if i.sum != nil {
		return hex.EncodeToString(i.sum)
	}
	h := sha256.Sum256([]byte(i.Identity()))
	return "k" + hex.EncodeToString(h[:])
}

func (s *Store) stat(name string) (*Info, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	snap := s.snap.Load()
	if snap.m != nil {
		return s.statDeployed(snap, name)
	}
	if name == "." {
		return &Info{name: ".", dir: true, gen: snap.gen}, nil
	}
	if s3utils.CheckValidObjectName(s.key(name)) != nil {
		// Not a key (too long, not UTF-8): no object has it, and the
		// client's refusal to ask must not pass for an outage.
		return nil, fs.ErrNotExist
	}
	if i, err, ok := s.known(name, false); ok {
		return i, err
	}
	if s.down.Load() {
		if i, err, ok := s.known(name, true); ok {
			return i, err
		}
		return nil, ErrUnavailable
	}
	// One LIST of the folder answers for the name, its sidecars and
	// its neighbours, folders included, for the poll interval; a folder
	// found larger than ListMax is not listed again within it.
	if s.cfg.ListMax > 0 && !s.listed(path.Dir(name)) {
		parent := path.Dir(name)
		_, err, _ := s.flight.Do("l\x00"+parent, func() (any, error) { return nil, s.listFolder(snap, parent) })
		if err == nil {
			if i, err, ok := s.known(name, false); ok {
				return i, err
			}
		}
	}
	v, err, _ := s.flight.Do("h\x00"+name, func() (any, error) { return s.head(snap, name) })
	if errors.Is(err, ErrUnavailable) {
		if i, err, ok := s.known(name, true); ok {
			return i, err
		}
	}
	if err != nil {
		return nil, err
	}
	return v.(*Info), nil
}

// known answers for name from what listings and HEADs said within the
// poll interval, or, with stale (the store failing), within StaleMax;
// ok is false when they say nothing.
func (s *Store) known(name string, stale bool) (*Info, error, bool) {
	now := time.Now().UnixNano()
	usable := func(at int64) bool {
		if stale {
			return !s.stale(at)
		}
		return now-at <= int64(s.cfg.Poll)
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if f := s.folders[path.Dir(name)]; f != nil && usable(f.at) {
		if i := f.names[path.Base(name)]; i != nil {
			return i, nil, true
		}
		if f.complete {
			return nil, fs.ErrNotExist, true
		}
	}
	if m, ok := s.meta[name]; ok && usable(m.at) {
		i, err := m.found()
		return i, err, true
	}
	return nil, nil, false
}

// listed reports whether the folder dir was listed within the poll
// interval: what the listing did not show (a folder larger than ListMax)
// is asked about by name.
func (s *Store) listed(dir string) bool {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	f := s.folders[dir]
	return f != nil && time.Now().UnixNano()-f.at <= int64(s.cfg.Poll)
}

// listFolder lists the folder dir (one LIST with a delimiter, up to
// ListMax entries) and remembers what it holds.
func (s *Store) listFolder(snap *snapshot, dir string) error {
	p := s.key(dir)
	if p != "" {
		p += "/"
	}
	ctx, cancel := s.ctx()
	defer cancel()
	f := &folder{at: time.Now().UnixNano(), names: make(map[string]*Info), complete: true}
	n := 0
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: p}) {
		if err := s.classify(o.Err); err != nil {
			return err
		}
		if n++; n > s.cfg.ListMax {
			f.complete = false
			break // cancel (deferred) ends the listing
		}
		if i := entryInfo(snap, p, o, dir == "."); i != nil {
			f.names[i.name] = i
		}
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if old := s.folders[dir]; old != nil {
		s.entries -= len(old.names)
	}
	if s.entries+len(f.names) > maxMeta {
		clear(s.folders)
		s.entries = 0
	}
	s.folders[dir] = f
	s.entries += len(f.names)
	return nil
}

// entryInfo describes the listed object o beneath the prefix p: a file,
// or a folder (a common prefix); nil for a key no request can reach
// (an empty, "." or ".." segment) or, at the root (top), the deploy's
// folder.
func entryInfo(snap *snapshot, p string, o minio.ObjectInfo, top bool) *Info {
	rel := strings.TrimPrefix(o.Key, p)
	dir := strings.HasSuffix(rel, "/")
	rel = strings.TrimSuffix(rel, "/")
	if rel == "" || rel == "." || rel == ".." || strings.ContainsAny(rel, "/\\\x00") || top && deployName(rel) {
		return nil
	}
	i := &Info{name: rel, dir: dir, size: o.Size, mod: o.LastModified, gen: snap.gen}
	if !dir {
		i.key, i.etag = o.Key, o.ETag
	}
	return i
}

func (m metaEntry) found() (*Info, error) {
	if m.info == nil {
		return nil, fs.ErrNotExist
	}
	return m.info, nil
}

// statDeployed finds name in the manifest: no store call, but nothing is
// answered once the store has failed for longer than StaleMax.
func (s *Store) statDeployed(snap *snapshot, name string) (*Info, error) {
	if s.down.Load() && s.stale(s.okAt.Load()) {
		return nil, ErrUnavailable
	}
	if f, ok := snap.m.Files[name]; ok {
		sum, _ := hex.DecodeString(f.SHA256)
		return &Info{name: path.Base(name), size: f.Size, mod: f.Mod, key: manifest.ObjectKey(s.prefix, f.SHA256), etag: f.SHA256, sum: sum, gen: snap.gen}, nil
	}
	if _, ok := snap.dirs[name]; ok {
		return &Info{name: path.Base(name), dir: true, mod: snap.m.Created, gen: snap.gen}, nil
	}
	return nil, fs.ErrNotExist
}

// head asks the store about name: an object, or a folder when keys lie
// beneath it; the answer is remembered.
func (s *Store) head(snap *snapshot, name string) (*Info, error) {
	key := s.key(name)
	ctx, cancel := s.ctx()
	defer cancel()
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	err = s.classify(err)
	var i *Info
	switch {
	case err == nil:
		i = &Info{name: path.Base(name), size: oi.Size, mod: oi.LastModified, key: key, etag: oi.ETag, gen: snap.gen}
	case errors.Is(err, fs.ErrNotExist):
		lctx, stop := context.WithCancel(ctx)
		o, found := <-s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: key + "/", MaxKeys: 1})
		stop()
		if found {
			if err = s.classify(o.Err); err != nil {
				return nil, err
			}
			i = &Info{name: path.Base(name), dir: true, mod: o.LastModified, gen: snap.gen}
		}
	default:
		return nil, err
	}
	s.remember(name, i)
	if i == nil {
		return nil, fs.ErrNotExist
	}
	return i, nil
}

func (s *Store) remember(name string, i *Info) {
	s.metaMu.Lock()
	if len(s.meta) >= maxMeta {
		clear(s.meta)
	}
	s.meta[name] = metaEntry{info: i, at: time.Now().UnixNano()}
	s.metaMu.Unlock()
}

// dirsOf lists each folder's entries of a manifest, sorted by name.
func dirsOf(m *manifest.Manifest) map[string][]fs.DirEntry {
	dirs := map[string][]fs.DirEntry{".": nil}
	for _, d := range m.Dirs {
		if deployName(d) {
			continue
		}
		if _, ok := dirs[d]; !ok {
			dirs[d] = nil
		}
		p := path.Dir(d)
		dirs[p] = append(dirs[p], dirEntry{&Info{name: path.Base(d), dir: true, mod: m.Created}})
	}
	for name, f := range m.Files {
		if deployName(name) {
			continue
		}
		p := path.Dir(name)
		dirs[p] = append(dirs[p], dirEntry{&Info{name: path.Base(name), size: f.Size, mod: f.Mod}})
	}
	for _, es := range dirs {
		slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
	return dirs
}

type dirEntry struct{ i *Info }

func (d dirEntry) Name() string               { return d.i.name }
func (d dirEntry) IsDir() bool                { return d.i.dir }
func (d dirEntry) Type() fs.FileMode          { return d.i.Mode().Type() }
func (d dirEntry) Info() (fs.FileInfo, error) { return d.i, nil }

// dirFile is an open folder.
type dirFile struct {
	s    *Store
	info *Info
	name string
}

func (f *dirFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *dirFile) Close() error               { return nil }
func (f *dirFile) ReadAt([]byte, int64) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: f.name, Err: errors.New("is a folder")}
}

// ReadDir lists the folder (n is ignored: all entries): from the
// manifest in deploy mode, else by LIST with a delimiter. Keys no request
// could reach (empty, "." or ".." segments) are left out.
func (f *dirFile) ReadDir(int) ([]fs.DirEntry, error) {
	s := f.s
	snap := s.snap.Load()
	if snap.m != nil {
		if snap.gen != f.info.gen {
			return nil, fs.ErrNotExist // another version since it was opened
		}
		return slices.Clone(snap.dirs[f.name]), nil
	}
	if s.down.Load() {
		return nil, ErrUnavailable
	}
	p := s.key(f.name)
	if p != "" {
		p += "/"
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var out []fs.DirEntry
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: p}) {
		if err := s.classify(o.Err); err != nil {
			return nil, err
		}
		if i := entryInfo(snap, p, o, f.name == "."); i != nil {
			out = append(out, dirEntry{i})
		}
	}
	return out, nil
}

// memFile is a small object, read whole into memory when first read.
type memFile struct {
	s    *Store
	info *Info
	data []byte
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

// ReadAt reads the object whole once (concurrent readers of one object
// share one GET), then from memory.
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if f.data == nil && f.info.size > 0 {
		b, err := f.s.whole(f.info)
		if err != nil {
			return 0, err
		}
		f.data = b
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// whole reads a small object, one GET for all who ask at once.
func (s *Store) whole(i *Info) ([]byte, error) {
	if s.down.Load() {
		return nil, ErrUnavailable
	}
	v, err, _ := s.flight.Do("g\x00"+i.Identity(), func() (any, error) {
		return s.getRange(i, 0, i.size)
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// getRange reads [off, off+n) of the object of i; in plain mode only
// while its ETag is still i's.
func (s *Store) getRange(i *Info, off, n int64) ([]byte, error) {
	var opts minio.GetObjectOptions
	if n > 0 && (off > 0 || n < i.size) {
		opts.SetRange(off, off+n-1)
	}
	if i.sum == nil && i.etag != "" {
		opts.SetMatchETag(i.etag)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	o, err := s.client.GetObject(ctx, s.bucket, i.key, opts)
	if err != nil {
		return nil, s.changed(gone(s.classify(err)))
	}
	defer o.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(o, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, s.changed(errChanged) // shorter than its metadata said
		}
		return nil, s.changed(gone(s.classify(err)))
	}
	s.classify(nil)
	return b, nil
}

// gone makes a missing object errChanged: it was there when opened (its
// manifest names it, or the store listed it), so it was deleted since,
// as --keep does to a version some instances serve until their next poll.
// Transient, a 503 a load balancer retries elsewhere, not a 500.
func gone(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errChanged
	}
	return err
}

// changed forgets the metadata when err says the object changed.
func (s *Store) changed(err error) error {
	if err == errChanged {
		s.forgetMeta()
	}
	return err
}
