package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weft-server/weft/internal/manifest"
	"github.com/weft-server/weft/internal/s3conn"
	"github.com/weft-server/weft/internal/site"
)

// DefaultJobs is how many objects a deploy uploads at once by default.
const DefaultJobs = 8

// Options say what to deploy and how.
type Options struct {
	// Site is the folder (Site.Root) and the policy weft serve would
	// serve it with: what a request can reach is what is uploaded (see
	// site.Reachable), dotfiles and links as Dotfiles and Symlinks allow,
	// precompressed sidecars included.
	Site   site.Config
	Jobs   int       // objects uploaded at once; DefaultJobs when zero
	DryRun bool      // say what would be uploaded, write nothing
	Log    io.Writer // a line per phase; nil for none

	// hooks let a test look at the store between phases, or change a file.
	hooks hooks
}

type hooks struct {
	phase  func(Phase)       // after each phase is done
	upload func(name string) // before a file is opened to be uploaded
}

// Phase is a step of a deploy, in order.
type Phase int

const (
	Scanned  Phase = iota // the folder is read and hashed
	Compared              // the store's objects are listed
	Uploaded              // the new objects are in the store
	Written               // the manifest is in the store, its objects checked
	Switched              // the pointer names the new version
)

// Result says what a deploy did.
type Result struct {
	ID            string // the new version, "" after a dry run
	Previous      string // the version current before, "" for none
	Files         int    // the version's files
	Dirs          int    // its folders, the root's excepted
	Bytes         int64  // their total size
	Uploaded      int    // objects uploaded
	UploadedBytes int64  // their total size
	Reused        int    // objects the store held already
	Elapsed       time.Duration
}

// object is one content to upload: its hash and size, and a file of the
// folder holding it, as the scan found it.
type object struct {
	sum  string
	size int64
	name string
	fi   fs.FileInfo
}

// Deploy uploads o.Site.Root to s as a new version and switches the
// pointer to it; with o.DryRun it only says what it would upload. Its
// errors are one line; after one, the pointer names what it named before.
func Deploy(ctx context.Context, s Store, o Options) (Result, error) {
	start := time.Now()
	res := Result{}
	logf := logger(o.Log)
	if o.Jobs <= 0 {
		o.Jobs = DefaultJobs
	}
	if err := checkDir(o.Site.Root); err != nil {
		return res, err
	}
	if err := s.check(ctx); err != nil {
		return res, err
	}
	m, found, err := scan(o.Site)
	if err != nil {
		return res, err
	}
	if len(m.Files) == 0 {
		// Most likely a build that wrote nothing: switching every server
		// to a site of 404s is never what was meant.
		return res, fmt.Errorf("cannot deploy %s: it holds no file a request can reach", o.Site.Root)
	}
	// Names a manifest refuses must stop the deploy before any upload.
	m.ID = manifest.NewID(start, [32]byte{})
	if err := m.Validate(); err != nil {
		return res, fmt.Errorf("cannot deploy %s: %w", o.Site.Root, err)
	}
	res.Files, res.Dirs = len(m.Files), len(m.Dirs)
	for _, f := range m.Files {
		res.Bytes += f.Size
	}
	logf("scanned %s: %s (%d bytes) in %s", o.Site.Root, count(res.Files, "file"), res.Bytes, count(res.Dirs+1, "folder"))
	o.hooks.at(Scanned)

	objs, err := s.objects(ctx)
	if err != nil {
		return res, err
	}
	todo := toUpload(m, found, objs)
	uniq := map[string]bool{}
	for _, f := range m.Files {
		uniq[f.SHA256] = true
	}
	res.Reused = len(uniq) - len(todo)
	for _, ob := range todo {
		res.UploadedBytes += ob.size
	}
	logf("%s holds %s: %d of this site's %d to upload (%d bytes), %d reused",
		s.Loc, count(len(objs), "object"), len(todo), len(uniq), res.UploadedBytes, res.Reused)
	o.hooks.at(Compared)
	if o.DryRun {
		for _, ob := range todo {
			logf("would upload %s (%d bytes, sha256 %s)", ob.name, ob.size, ob.sum)
		}
		logf("dry run: would upload %s (%d bytes), write a version of %s and switch %s to it; nothing written",
			count(len(todo), "object"), res.UploadedBytes, count(res.Files, "file"), s.Loc)
		res.Elapsed = since(start)
		return res, nil
	}

	if err := upload(ctx, s, o, todo); err != nil {
		return res, err
	}
	res.Uploaded = len(todo)
	logf("uploaded %s (%d bytes)", count(res.Uploaded, "object"), res.UploadedBytes)
	o.hooks.at(Uploaded)

	created := time.Now().UTC().Truncate(time.Second)
	body, err := json.Marshal(struct {
		Files map[string]manifest.File
		Dirs  []string
	}{m.Files, m.Dirs})
	if err != nil {
		return res, err
	}
	m.Created, m.ID = created, manifest.NewID(created, sha256.Sum256(body))
	b, err := m.Encode()
	if err != nil {
		return res, fmt.Errorf("the manifest: %w", err)
	}
	if err := s.put(ctx, manifest.VersionKey(s.Loc.Prefix, m.ID), b, "application/json"); err != nil {
		return res, s.errf(err, "writing version %s", m.ID)
	}
	// Every object the version names must be there before anyone is sent
	// to it: one more listing catches an object gone since the first
	// (collected by a --keep elsewhere).
	if objs, err = s.objects(ctx); err != nil {
		return res, s.unwrite(ctx, m.ID, err)
	}
	if name, gone := missing(m, objs); gone {
		return res, s.unwrite(ctx, m.ID, fmt.Errorf("%s: the object of %s is missing after the upload (collected by a --keep running at the same time?); version %s not switched to, deploy again", s.Loc, name, m.ID))
	}
	logf("wrote version %s (%s), every object in place", m.ID, count(res.Files, "file"))
	o.hooks.at(Written)

	prev, perr := s.current(ctx)
	if perr != nil && !errors.Is(perr, ErrBadPointer) {
		return res, s.unwrite(ctx, m.ID, perr)
	}
	if err := s.setCurrent(ctx, m.ID); err != nil {
		return res, err
	}
	res.ID, res.Previous = m.ID, prev
	logf("switched %s to %s (was %s)", s.Loc, m.ID, was(prev, perr))
	o.hooks.at(Switched)
	res.Elapsed = since(start)
	return res, nil
}

// Summary is what a deploy to loc did, in one line.
func (r Result) Summary(loc s3conn.Location) string {
	return fmt.Sprintf("%s is on version %s: %s (%d bytes); objects: %d new (%d bytes), %d reused; %v",
		loc, r.ID, count(r.Files, "file"), r.Bytes, r.Uploaded, r.UploadedBytes, r.Reused, r.Elapsed)
}

// was names the version a pointer named before a switch, read with err.
func was(id string, err error) string {
	switch {
	case err != nil:
		return "a damaged pointer"
	case id == "":
		return "none"
	}
	return id
}

func (h hooks) at(p Phase) {
	if h.phase != nil {
		h.phase(p)
	}
}

// logger writes "weft deploy: " lines to w.
func logger(w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) {
		if w != nil {
			fmt.Fprintf(w, "weft deploy: "+format+"\n", args...)
		}
	}
}

// checkDir refuses a DIR that is no folder.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("cannot deploy %s: %w", dir, unwrapPath(err))
	case !fi.IsDir():
		return fmt.Errorf("cannot deploy %s: not a folder", dir)
	}
	return nil
}

// scan lists and hashes what a request can reach in sc.Root: the
// manifest of a version, without its ID and time, and each file as it was
// found (so that its upload opens that file and no other).
func scan(sc site.Config) (*manifest.Manifest, map[string]fs.FileInfo, error) {
	sc.Cache.NoWatch = true
	st, err := site.Open(sc)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot deploy %s: %s", sc.Root, strings.TrimPrefix(err.Error(), "weft: "))
	}
	defer st.Close()
	m := &manifest.Manifest{Format: manifest.Format, Files: map[string]manifest.File{}}
	found := map[string]fs.FileInfo{}
	h := sha256.New()
	err = st.Reachable(func(name string, fi fs.FileInfo, f site.File) error {
		if f == nil {
			m.Dirs = append(m.Dirs, name)
			return nil
		}
		h.Reset()
		// One byte past the size it had: a file that grew is caught.
		n, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size()+1))
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		after, err := f.Stat()
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if n != fi.Size() || after.Size() != n || !after.ModTime().Equal(fi.ModTime()) {
			return fmt.Errorf("%s changed while it was read; deploy again once it is written", name)
		}
		m.Files[name] = manifest.File{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, Mod: fi.ModTime().UTC()}
		found[name] = after
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("scanning %s: %w", sc.Root, err)
	}
	return m, found, nil
}

// toUpload lists the objects m needs that objs (the store's) lacks, or
// holds at another size (a damaged upload, replaced), in name order.
func toUpload(m *manifest.Manifest, found map[string]fs.FileInfo, objs map[string]minio.ObjectInfo) []object {
	var todo []object
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(m.Files)) {
		f := m.Files[name]
		if seen[f.SHA256] {
			continue
		}
		seen[f.SHA256] = true
		if o, ok := objs[f.SHA256]; ok && o.Size == f.Size {
			continue
		}
		todo = append(todo, object{sum: f.SHA256, size: f.Size, name: name, fi: found[name]})
	}
	return todo
}

// upload puts todo's objects in the store, o.Jobs at once; the first
// failure stops the others.
func upload(ctx context.Context, s Store, o Options, todo []object) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan object)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(o.Jobs, len(todo)) {
		wg.Go(func() {
			for ob := range work {
				if err := putObject(ctx, s, o, ob); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for _, ob := range todo {
		select {
		case work <- ob:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// putObject uploads the file ob.name as the object of ob.sum, checking
// as it reads that the bytes are still those hashed: a file changed
// since fails the upload before its last bytes leave, so no object is
// ever stored under a hash its bytes do not have.
func putObject(ctx context.Context, s Store, o Options, ob object) error {
	if o.hooks.upload != nil {
		o.hooks.upload(ob.name)
	}
	f, err := openScanned(o.Site.Root, ob)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", ob.name, err)
	}
	defer f.Close()
	r := &verified{f: f, sum: ob.sum, size: ob.size, h: sha256.New()}
	_, err = s.Client.PutObject(ctx, s.Loc.Bucket, manifest.ObjectKey(s.Loc.Prefix, ob.sum), r, ob.size,
		minio.PutObjectOptions{ContentType: site.TypeOf(ob.name)})
	if err != nil {
		if errors.Is(err, errChanged) {
			return fmt.Errorf("uploading %s: %w", ob.name, errChanged)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.errf(err, "uploading %s", ob.name)
	}
	return nil
}

// openScanned opens the file ob.name beneath root for its upload, and
// makes sure it is the very file the scan read (which the site's confined
// opener found): one swapped for a FIFO since (whose open would wait for a
// writer; O_NONBLOCK opens it at once), for a device, or for a link out of
// the folder is refused before a byte of it is read.
func openScanned(root string, ob object) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(root, filepath.FromSlash(ob.name)), os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, unwrapPath(err)
	}
	fi, err := f.Stat()
	if err == nil && (!fi.Mode().IsRegular() || !os.SameFile(fi, ob.fi) || fi.Size() != ob.size) {
		err = errChanged
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// errChanged marks a file whose bytes are no longer those hashed.
var errChanged = errors.New("the file changed since it was read (its size or SHA-256 differs); deploy again once it is written")

// verified reads a file that must hold size bytes hashing to sum. The
// read that would hand over the last bytes checks first: a file shorter,
// longer or different gets errChanged instead. It rewinds to its start
// (Seek(0, io.SeekStart)), so the client can retry a request.
type verified struct {
	f    *os.File
	sum  string
	size int64
	h    hash.Hash
	n    int64
}

func (v *verified) Read(p []byte) (int, error) {
	if v.n == v.size {
		return 0, io.EOF
	}
	if rest := v.size - v.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case v.n == v.size:
		var one [1]byte
		if m, _ := v.f.Read(one[:]); m > 0 || hex.EncodeToString(v.h.Sum(nil)) != v.sum {
			return 0, errChanged
		}
		return n, nil
	case err == io.EOF:
		return 0, errChanged
	}
	return n, err
}

func (v *verified) Seek(offset int64, whence int) (int64, error) {
	switch {
	case offset == 0 && whence == io.SeekCurrent:
		return v.n, nil
	case offset == 0 && whence == io.SeekStart:
		if _, err := v.f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		v.h.Reset()
		v.n = 0
		return 0, nil
	}
	return 0, errors.New("deploy: an upload rewinds only to its start")
}

// unwrapPath is err without the operation and path of an *fs.PathError,
// which the message names already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
