// Package origin serves a site's files from an S3-compatible object store:
// a root s3://BUCKET/PREFIX. It gives the site core the same small surface
// a directory does (open, stat, read-at, read-dir): the site never knows
// whether a byte came from a disk or a bucket.
//
// Two modes under one root: when PREFIX/.weft/current exists (see package
// manifest), the root serves that deployed version through its manifest:
// stat and listings from the manifest, no LIST calls, objects fetched by
// hash, content-hash validators without reading. Otherwise the keys
// beneath PREFIX are the files: stat by HEAD, listings by LIST with a
// delimiter.
//
// Confinement: a name is checked (fs.ValidPath, no backslash or NUL)
// before it becomes a key, so no key outside PREFIX is ever read, and in
// deploy mode nothing beneath .weft/ is served.
//
// Every store call has a timeout. While the store fails, metadata and
// objects already cached keep being served for at most StaleMax, and the
// rest fails at once with ErrUnavailable (503), never a hang; the poller
// keeps trying and the root recovers when the store answers again.
package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/singleflight"

	"github.com/weft-server/weft/internal/manifest"
	"github.com/weft-server/weft/internal/s3conn"
)

// Config says how to reach the store and how much to cache.
type Config struct {
	Endpoint  string // URL of the S3 API ("http://127.0.0.1:7070"); empty for AWS
	Region    string // when empty: AWS_REGION, AWS_DEFAULT_REGION, else asked of the store
	PathStyle bool   // address buckets as a path, not a host name

	// Credentials: AccessKey/SecretKey when set; else AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; else the shared
	// credentials file (CredentialsFile, or ~/.aws/credentials) and its
	// Profile (AWS_PROFILE, or "default").
	AccessKey, SecretKey, SessionToken string
	CredentialsFile, Profile           string

	CacheDir      string        // large objects are cached on disk beneath it; a temporary folder when empty
	CacheMaxBytes int64         // disk the cache may hold; 1 GiB when zero
	Poll          time.Duration // how often .weft/current (and, in plain mode, metadata) is checked; 2s when zero
	StaleMax      time.Duration // longest cached things are served while the store fails; 5m when zero, negative for never
	Timeout       time.Duration // bound on each store call; 10s when zero

	// MemoryMax: objects up to this size are read whole into memory on
	// demand (the site's cache keeps them); larger ones are cached on
	// disk and sent with sendfile. Negative: every object goes to disk.
	MemoryMax int64
	// SegmentBytes is the unit of ranged GETs and of the disk cache;
	// 1 MiB when zero.
	SegmentBytes int64
	// ListMax (plain mode) is the most entries of a folder whose names
	// are learnt by one LIST of it; beyond, each name is asked about
	// with a HEAD. 1000 (one page) when zero; negative: always HEAD.
	ListMax int
}

// ErrUnavailable is returned while the store cannot be reached and
// nothing cached (within StaleMax) can answer: the site answers 503.
var ErrUnavailable = errors.New("object store unavailable")

// ErrCache is returned when a large object cannot be cached on disk (the
// cache's folder cannot be made or written): a server error (500).
var ErrCache = errors.New("origin cache unusable")

// Store is an open s3:// root. It is safe for concurrent use.
type Store struct {
	cfg    Config
	bucket string
	prefix string // "" or without its trailing slash
	client *minio.Client
	disk   *disk

	snap atomic.Pointer[snapshot]
	gen  atomic.Uint64

	okAt atomic.Int64 // when the store last answered (UnixNano)
	down atomic.Bool  // the last call failed for want of the store

	flight singleflight.Group

	metaMu  sync.Mutex
	meta    map[string]metaEntry // plain mode: names → last HEAD (folders too large to list)
	folders map[string]*folder   // plain mode: folders → their last listing
	entries int                  // names held by folders

	stop chan struct{}
	done chan struct{}
	// onSwitch, when set, is called after each switch of version.
	onSwitch atomic.Pointer[func()]
}

// snapshot is the version being served: immutable once published.
type snapshot struct {
	gen  uint64
	id   string             // the deployed version; "" in plain mode
	m    *manifest.Manifest // nil in plain mode
	dirs map[string][]fs.DirEntry
}

type metaEntry struct {
	info *Info // nil: absent
	at   int64 // when the store said so (UnixNano)
}

// folder is one listing of a plain-mode folder: what it held at a time.
type folder struct {
	at       int64            // when listed (UnixNano)
	names    map[string]*Info // its files and folders
	complete bool             // all of it: a name not in names is absent
}

// maxMeta bounds the metadata remembered in plain mode, in names.
const maxMeta = 1 << 16

// Open connects to the store of root (s3://BUCKET/PREFIX), reads its
// pointer to tell the mode, and starts polling. It fails when the bucket
// cannot be read.
func Open(root string, cfg Config) (*Store, error) {
	loc, err := s3conn.ParseURL(root)
	if err != nil {
		return nil, fmt.Errorf("weft: root %w", err)
	}
	bucket, prefix := loc.Bucket, loc.Prefix
	if cfg.CacheMaxBytes <= 0 {
		cfg.CacheMaxBytes = 1 << 30
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.StaleMax == 0 {
		cfg.StaleMax = 5 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ListMax == 0 {
		cfg.ListMax = 1000
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 1 << 20
	}
	client, err := newClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("weft: root %s: %w", root, err)
	}
	d := openDisk(cfg.CacheDir, cfg.CacheMaxBytes)
	s := &Store{cfg: cfg, bucket: bucket, prefix: prefix, client: client, disk: d,
		meta: make(map[string]metaEntry), folders: make(map[string]*folder), stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.poll(); err != nil {
		d.close()
		if errors.Is(err, fs.ErrPermission) {
			err = errors.New("access denied: check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --s3-credentials-file and --s3-profile)")
		}
		return nil, fmt.Errorf("weft: root %s: %w", root, err)
	}
	go s.poller()
	return s, nil
}

// newClient connects to the store cfg names, through s3conn as weft
// deploy does: credentials are cfg's keys when set, else the
// environment's, else the shared credentials file's.
func newClient(cfg Config) (*minio.Client, error) {
	env := os.Environ()
	if cfg.AccessKey != "" {
		env = []string{"AWS_ACCESS_KEY_ID=" + cfg.AccessKey, "AWS_SECRET_ACCESS_KEY=" + cfg.SecretKey, "AWS_SESSION_TOKEN=" + cfg.SessionToken}
	}
	// One try per call: a failing store is answered from the cache or
	// with 503 at once, and the poller tries again.
	return s3conn.Options{Endpoint: cfg.Endpoint, Region: cfg.Region, PathStyle: cfg.PathStyle,
		CredentialsFile: cfg.CredentialsFile, Profile: cfg.Profile, Timeout: cfg.Timeout, Retries: 1, Env: env}.Client()
}

// Close stops polling and removes the disk cache.
func (s *Store) Close() error {
	close(s.stop)
	<-s.done
	s.disk.close()
	return nil
}

// Name is the root as s3://BUCKET/PREFIX.
func (s *Store) Name() string {
	return s3conn.Location{Bucket: s.bucket, Prefix: s.prefix}.String()
}

// Base is the last segment of the prefix, or the bucket's name.
func (s *Store) Base() string {
	if s.prefix == "" {
		return s.bucket
	}
	return path.Base(s.prefix)
}

// Generation changes whenever the version served does: anything made
// from a file opened under another generation is of another version.
func (s *Store) Generation() uint64 { return s.snap.Load().gen }

// Version is the deployed version being served, "" in plain mode.
func (s *Store) Version() string { return s.snap.Load().id }

// Down reports whether the store's last call failed for want of it:
// calls now fail at once, and what is cached answers within StaleMax.
func (s *Store) Down() bool { return s.down.Load() }

// OnSwitch sets fn to be called after each switch of version.
func (s *Store) OnSwitch(fn func()) { s.onSwitch.Store(&fn) }

// OnEvict sets fn to be called when the disk cache evicts large objects
// still held open: a holder keeping files for later should let go of
// those whose Evicted says so (see DiskFile.Evicted), or their bytes stay
// on disk beyond CacheMaxBytes.
func (s *Store) OnEvict(fn func()) { s.disk.pressed.Store(&fn) }

// ctx bounds one store call.
func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.Timeout)
}

// key is the object key of name beneath the prefix.
func (s *Store) key(name string) string {
	if name == "." {
		return s.prefix
	}
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

// checkName refuses a name that is not clean (the site hands only clean
// names, and nothing else may become a key) or that lies in .weft.
func checkName(name string) error {
	if !fs.ValidPath(name) || strings.ContainsAny(name, "\\\x00") || deployName(name) {
		return fs.ErrNotExist
	}
	return nil
}

// deployName reports whether name lies in the deploy's own folder
// (.weft), which is never served, in either mode: in plain mode it is a
// deploy not published yet.
func deployName(name string) bool {
	return name == manifest.Dir || strings.HasPrefix(name, manifest.Dir+"/")
}

// classify turns a store error into fs.ErrNotExist, fs.ErrPermission or
// ErrUnavailable, noting an outage.
func (s *Store) classify(err error) error {
	if err == nil {
		s.okAt.Store(time.Now().UnixNano())
		s.down.Store(false)
		return nil
	}
	r := minio.ToErrorResponse(err)
	switch {
	case r.StatusCode == 404 || r.Code == "NoSuchKey":
		s.okAt.Store(time.Now().UnixNano())
		s.down.Store(false)
		return fs.ErrNotExist
	case r.StatusCode == 403:
		return fs.ErrPermission
	case r.StatusCode == 412:
		return errChanged
	case r.StatusCode >= 400 && r.StatusCode < 500 && r.StatusCode != 408 && r.StatusCode != 429:
		// The store answered, refusing this request (a key it cannot
		// hold, say): not an outage, which would stop every other call.
		s.okAt.Store(time.Now().UnixNano())
		s.down.Store(false)
		return fmt.Errorf("object store refused the request: %w", err)
	}
	s.down.Store(true)
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// errChanged: an object changed since its metadata was read (its ETag
// no longer matches) or while it was read. Transient: the site answers
// 503, and the metadata is read again (see forgetMeta).
var errChanged = fmt.Errorf("%w: object changed while read", ErrUnavailable)

// forgetMeta drops what plain mode knows of names and folders, after an
// object was found changed: the next request asks the store again.
func (s *Store) forgetMeta() {
	s.metaMu.Lock()
	clear(s.meta)
	clear(s.folders)
	s.entries = 0
	s.metaMu.Unlock()
}

// stale reports whether what was known at (UnixNano) may no longer be
// served while the store fails.
func (s *Store) stale(at int64) bool {
	return s.cfg.StaleMax < 0 || time.Now().UnixNano()-at > int64(s.cfg.StaleMax)
}

// poller checks the pointer every Poll; while the store fails, every
// quarter of it, to recover soon.
func (s *Store) poller() {
	defer close(s.done)
	for {
		every := s.cfg.Poll
		if s.down.Load() {
			every = max(every/4, 50*time.Millisecond)
		}
		select {
		case <-s.stop:
			return
		case <-time.After(every):
		}
		s.poll()
	}
}

// poll reads the pointer and, when it names another version, that
// version's manifest, then publishes it: one pointer swap, so a request
// sees one version whole.
func (s *Store) poll() error {
	cur := s.snap.Load()
	id, err := s.readCurrent()
	if err != nil {
		if cur == nil && errors.Is(err, fs.ErrNotExist) {
			err = nil // no deploy: plain mode
		} else if cur == nil || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if cur != nil && id == cur.id {
		if id == "" {
			s.expireMeta()
		}
		return nil
	}
	next := &snapshot{id: id}
	if id != "" {
		m, err := s.readManifest(id)
		if err != nil {
			return err
		}
		next.m, next.dirs = m, dirsOf(m)
	}
	next.gen = s.gen.Add(1)
	s.forgetMeta()
	s.snap.Store(next)
	if fn := s.onSwitch.Load(); fn != nil && cur != nil {
		(*fn)()
	}
	return nil
}

// readCurrent returns the version the pointer names, "" and
// fs.ErrNotExist without one. It also checks that the bucket can be read.
func (s *Store) readCurrent() (string, error) {
	b, err := s.get(manifest.CurrentKey(s.prefix), 1024)
	if errors.Is(err, fs.ErrNotExist) {
		// No pointer: the bucket must still answer (a missing bucket
		// answers 404 too, with NoSuchBucket).
		ctx, cancel := s.ctx()
		defer cancel()
		ok, berr := s.client.BucketExists(ctx, s.bucket)
		if berr = s.classify(berr); berr != nil {
			return "", berr
		}
		if !ok {
			return "", fmt.Errorf("bucket %s does not exist, or these credentials may not see it", s.bucket)
		}
		return "", fs.ErrNotExist
	}
	if err != nil {
		return "", err
	}
	return manifest.ParseCurrent(b)
}

func (s *Store) readManifest(id string) (*manifest.Manifest, error) {
	b, err := s.get(manifest.VersionKey(s.prefix, id), manifest.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", id, err)
	}
	m, err := manifest.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("version %s: its manifest says %s", id, m.ID)
	}
	return m, nil
}

// get reads the whole object key, of at most limit bytes.
func (s *Store) get(key string, limit int64) ([]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	o, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.classify(err)
	}
	defer o.Close()
	b, err := io.ReadAll(io.LimitReader(o, limit+1))
	if err != nil {
		return nil, s.classify(err)
	}
	s.classify(nil)
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("object %s larger than %d bytes", key, limit)
	}
	return b, nil
}

// expireMeta forgets metadata too old to be used even in an outage
// (plain mode).
func (s *Store) expireMeta() {
	now := time.Now().UnixNano()
	keep := int64(max(s.cfg.Poll, s.cfg.StaleMax))
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	for k, m := range s.meta {
		if now-m.at > keep {
			delete(s.meta, k)
		}
	}
	for k, f := range s.folders {
		if now-f.at > keep {
			s.entries -= len(f.names)
			delete(s.folders, k)
		}
	}
}
