package site

import (
	"hash/maphash"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
)

// CacheConfig sizes the file cache: small files are held in memory whole,
// with their response headers pre-rendered, so a cached GET needs no
// system call beyond the socket's; large files are held open with their
// metadata (like nginx's open_file_cache), so a hot large file is not
// reopened and re-stat'ed per request.
//
// Freshness: a change to a cached file (written, replaced, renamed,
// deleted) is noticed at once where fsnotify works, and in any case an
// entry is served for at most Validity before the file's metadata is
// checked again, so nothing stale is served for longer than Validity. An
// entry in demand is checked once it has lived half of Validity, by one
// goroutine off the event loop, so that it does not expire under load.
type CacheConfig struct {
	MaxBytes int64         // memory for entries: contents, headers, keys and bookkeeping; 64 MiB when zero; negative disables the cache
	MaxFile  int64         // largest file held in memory; 32 KiB when zero (sendfile beats a copy beyond)
	MaxOpen  int           // most large files held open; 1000 when zero
	Validity time.Duration // longest an entry goes unchecked; 1s when zero
	// NoWatch relies on Validity alone, for file systems where inotify
	// reports nothing (NFS and other network mounts).
	NoWatch bool
}

// The cache is keyed by what it caches: the resolved name beneath the root
// (plus "/" for a directory's index), so every spelling of one file's path
// shares one entry, one copy of its content and one descriptor.
//
// Lookups take only the read lock of one of nShards shards (by a hash of
// the key), so event loops hitting different files share no lock; besides
// that lock's reader count, a hit writes only the entry's hot bit, once per
// pass of the eviction hand, and, for an open file, the reference count
// that keeps the descriptor open while it is sent. Everything else (inserts,
// eviction, invalidation, accounting) happens under one mutex, mu, on the
// slow path; a shard's map changes only under both mu and the shard's
// write lock, so a holder of mu may read any shard's map.
//
// Eviction is CLOCK over two rings, one of entries held in memory and one
// of open files, each O(1) amortized per insert. Invalidation walks a
// name index (a tree of path segments) to the entries of a file or of a
// directory's subtree, never the whole cache.
type cache struct {
	maxBytes int64
	maxFile  int64
	maxOpen  int
	validity int64 // nanoseconds
	seed     maphash.Seed

	shards [nShards]shard

	mu    sync.Mutex
	bytes int64 // charged by all entries (entry.cost)
	open  int   // entries holding a descriptor
	mem   ring  // entries held in memory
	files ring  // entries holding a descriptor
	index node  // the tree of names; the root stands for "."

	evictions uint64 // entries evicted for room, under mu
	variants  uint64 // compressed variants built and cached, under mu

	// gen, for an object store, is its generation (see origin.Store):
	// an entry read under another is of another version, never served.
	gen func() uint64
	// recheck, for an object store, is asked about an entry past its
	// validity on the memory path: true, it may be served as it is while
	// it is confirmed away from the event loop (see Site.recheck).
	recheck func(e *entry) bool
	// refresh is asked about a fresh entry past half its validity:
	// it confirms the entry away from the event loop (see Site.confirm).
	refresh func(e *entry) bool

	root    string // absolute path of the root, for the watcher
	watcher *fsnotify.Watcher
	watched map[string]bool
	done    chan struct{}
}

const nShards = 32

// shard is one part of the cache's map, on cache lines of its own. Its
// counters share the line that taking the read lock writes anyway.
type shard struct {
	mu     sync.RWMutex
	m      map[string]*entry
	hits   atomic.Uint64 // requests answered from an entry of this shard
	misses atomic.Uint64 // files read into a new entry under a key of this shard
	_      [128 - 48]byte
}

func newCache(cfg CacheConfig, root string) *cache {
	c := &cache{maxBytes: cfg.MaxBytes, maxFile: cfg.MaxFile, maxOpen: cfg.MaxOpen, validity: int64(cfg.Validity), seed: maphash.MakeSeed()}
	if c.maxBytes == 0 {
		c.maxBytes = 64 << 20
	}
	if c.maxFile <= 0 {
		c.maxFile = 32 << 10
	}
	if c.maxOpen <= 0 {
		c.maxOpen = 1000
	}
	if c.validity <= 0 {
		c.validity = int64(time.Second)
	}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*entry)
	}
	if c.maxBytes < 0 {
		return c
	}
	if root == "" {
		return c // nothing to watch
	}
	if abs, err := filepath.Abs(root); err == nil {
		c.root = abs
	}
	if cfg.NoWatch {
		return c
	}
	if w, err := fsnotify.NewWatcher(); err == nil && c.root != "" {
		c.watcher, c.watched, c.done = w, make(map[string]bool), make(chan struct{})
		go c.watch()
	}
	return c
}

func (c *cache) enabled() bool { return c.maxBytes > 0 }

func (c *cache) shardOf(key []byte) *shard {
	return &c.shards[maphash.Bytes(c.seed, key)%nShards]
}

func (c *cache) shardOfString(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)%nShards]
}

// lookup returns the identity entry cached under key, acquired for a
// response that must Close it, or nil. With fresh, only an entry confirmed
// within the validity period is returned. It does not allocate.
func (c *cache) lookup(key []byte, now time.Time, fresh bool) *entry {
	e, _, _, _ := c.lookupFor(key, now, fresh, nil)
	return e
}

// lookupFor is lookup choosing, when req is not nil, the representation
// the client of req gets (see entry.pick; its Accept-Encoding is parsed
// only for a file that has other representations): it returns that one,
// acquired, and the identity entry. When the client would rather have a
// variant not built yet, build is its coding and the identity entry is
// acquired too, for the build. Representations are picked under the
// shard's lock, which removal takes before it releases them. It does not
// allocate, but to start an entry's confirmation (refresh) once per half
// validity.
func (c *cache) lookupFor(key []byte, now time.Time, fresh bool, req *http1.Request) (serve, base *entry, build codec.Coding, standin bool) {
	if !c.enabled() {
		return nil, nil, codec.Identity, false
	}
	sh := c.shardOf(key)
	sh.mu.RLock()
	base = sh.m[string(key)]
	if base == nil || (c.gen != nil && base.gen != c.gen()) ||
		fresh && now.UnixNano()-base.checked.Load() > c.validity && (req == nil || c.recheck == nil || !c.recheck(base)) {
		sh.mu.RUnlock()
		return nil, nil, codec.Identity, false
	}
	if fresh && c.refresh != nil && now.UnixNano()-base.checked.Load() > c.validity/2 {
		c.refresh(base)
	}
	serve = base
	if req != nil && base.state.Load() != 0 {
		a := acceptOf(req)
		serve, build, standin = base.pick(&a)
	}
	serve.acquire()
	if build != codec.Identity {
		base.acquire()
	}
	sh.mu.RUnlock()
	if req != nil {
		sh.hits.Add(1) // a request's lookup, not one of the site's own
	}
	if !base.hot.Load() {
		base.hot.Store(true)
	}
	return serve, base, build, standin
}

// choose picks, for a client that accepts a, the representation of base
// (acquired by the caller, and released here if another is chosen) when
// base is the entry cached under its key; otherwise base itself. See
// lookupFor for build.
func (c *cache) choose(base *entry, a *codec.Accept) (serve *entry, build codec.Coding, standin bool) {
	if base.state.Load() == 0 {
		return base, codec.Identity, false
	}
	sh := c.shardOfString(base.key)
	sh.mu.RLock()
	if sh.m[base.key] != base {
		sh.mu.RUnlock()
		return base, codec.Identity, false
	}
	serve, build, standin = base.pick(a)
	if serve != base {
		serve.acquire()
	}
	if build != codec.Identity {
		base.acquire()
	}
	sh.mu.RUnlock()
	if serve != base {
		base.Close()
	}
	return serve, build, standin
}

// attach adds r, the variant in coding c built for base, if base is still
// cached and the budget allows: it is charged to base, evicting others as
// insert does.
func (c *cache) attach(base *entry, cd codec.Coding, r *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if base.node == nil || base.reps[cd].Load() != nil {
		return // evicted, replaced or invalidated meanwhile
	}
	cost := r.repCost()
	if base.cost+cost > c.maxBytes/4 {
		base.drop(cd)
		return
	}
	base.reps[cd].Store(r)
	base.cost += cost
	c.bytes += cost
	c.variants++
	for c.bytes > c.maxBytes && base.node != nil {
		v := c.mem.victim()
		if v == nil {
			v = c.files.victim()
		}
		if v == nil {
			return
		}
		c.removeLocked(v)
		c.evictions++
	}
}

// insert caches e under key, replacing what was there, if it fits: it
// evicts entries until the bytes charged stay within maxBytes and the
// descriptors within maxOpen. An entry larger than a quarter of the budget
// is not cached. It reports whether e was cached; if not, the caller
// releases e's representations (dropReps) once it has served e.
func (c *cache) insert(key string, e *entry) bool {
	if !c.enabled() {
		return false
	}
	e.key = key
	e.charge()
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.shardOfString(key).m[key]; old != nil {
		c.removeLocked(old)
	}
	if e.cost > c.maxBytes/4 || e.descriptors() > c.maxOpen || e.evicted() {
		return false // could never fit (or its file is on disk only while held): evict nothing for it
	}
	for c.bytes+e.cost > c.maxBytes {
		v := c.mem.victim()
		if v == nil {
			v = c.files.victim()
		}
		if v == nil {
			return false
		}
		c.removeLocked(v)
		c.evictions++
	}
	if fds := e.descriptors(); fds > 0 {
		for c.open+fds > c.maxOpen {
			v := c.files.victim()
			if v == nil {
				return false
			}
			c.removeLocked(v)
			c.evictions++
		}
		if e.file != nil {
			e.refs.Add(1) // the cache's own reference; its sidecars' are e's
		}
		c.open += fds
		c.files.add(e)
	} else {
		c.mem.add(e)
	}
	c.bytes += e.cost
	c.index.add(e)
	sh := c.shardOfString(key)
	sh.mu.Lock()
	sh.m[key] = e
	sh.mu.Unlock()
	c.watchLocked(path.Dir(e.name))
	return true
}

// removeLocked drops e from the cache and the cache's reference to it.
func (c *cache) removeLocked(e *entry) {
	sh := c.shardOfString(e.key)
	sh.mu.Lock()
	delete(sh.m, e.key)
	sh.mu.Unlock()
	if fds := e.descriptors(); fds > 0 {
		c.files.remove(e)
		c.open -= fds
	} else {
		c.mem.remove(e)
	}
	c.bytes -= e.cost
	e.node.remove(e)
	e.dropReps()
	e.Close()
}

// invalidate drops every entry for the file or directory rel (beneath the
// root), or every entry when rel is "" or ".".
func (c *cache) invalidate(rel string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := &c.index
	if rel != "" && rel != "." {
		if n = n.find(rel); n == nil {
			return
		}
	}
	var victims []*entry
	n.collect(&victims)
	for _, e := range victims {
		c.removeLocked(e)
	}
	// A sidecar that changes changes the representations of its file.
	if cd, ok := codec.ByExt(rel); ok {
		if n = c.index.find(strings.TrimSuffix(rel, cd.Ext())); n != nil {
			victims = append(victims[:0], n.entries...)
			for _, e := range victims {
				c.removeLocked(e)
			}
		}
	}
}

// drop removes e from the cache if it is still there.
func (c *cache) drop(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sh := c.shardOfString(e.key)
	sh.mu.RLock()
	cur := sh.m[e.key]
	sh.mu.RUnlock()
	if cur == e {
		c.removeLocked(e)
	}
}

// dropEvicted removes the entries whose files an object store's disk
// cache has evicted (see entry.evicted), so that their bytes leave the
// disk once no response in flight sends them.
func (c *cache) dropEvicted() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var victims []*entry
	c.index.collect(&victims)
	for _, e := range victims {
		if e.evicted() {
			c.removeLocked(e)
		}
	}
}

// stats reports the number of entries, the bytes charged and the
// descriptors held.
func (c *cache) stats() (entries int, bytes int64, open int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.shards {
		entries += len(c.shards[i].m)
	}
	return entries, c.bytes, c.open
}

// CacheStats describe a site's file cache, for metrics.
type CacheStats struct {
	Entries   int    // entries cached
	Bytes     int64  // bytes charged for them (contents, headers, keys, bookkeeping)
	Open      int    // descriptors held
	Hits      uint64 // requests answered from an entry without reading the file
	Misses    uint64 // files read into a new entry (the cache on)
	Evictions uint64 // entries evicted to make room
	Variants  uint64 // compressed variants built and cached
}

// Add adds o's figures to s.
func (s *CacheStats) Add(o CacheStats) {
	s.Entries += o.Entries
	s.Bytes += o.Bytes
	s.Open += o.Open
	s.Hits += o.Hits
	s.Misses += o.Misses
	s.Evictions += o.Evictions
	s.Variants += o.Variants
}

// counts returns the cache's figures.
func (c *cache) counts() CacheStats {
	var st CacheStats
	st.Entries, st.Bytes, st.Open = c.stats()
	for i := range c.shards {
		st.Hits += c.shards[i].hits.Load()
		st.Misses += c.shards[i].misses.Load()
	}
	c.mu.Lock()
	st.Evictions, st.Variants = c.evictions, c.variants
	c.mu.Unlock()
	return st
}

// ring is a CLOCK ring of entries, linked through entry.prev and next.
type ring struct {
	hand *entry // the next candidate for eviction
	n    int
}

// add puts e just behind the hand: the last one the hand reaches.
func (r *ring) add(e *entry) {
	r.n++
	if r.hand == nil {
		e.prev, e.next = e, e
		r.hand = e
		return
	}
	e.next, e.prev = r.hand, r.hand.prev
	e.prev.next = e
	r.hand.prev = e
}

func (r *ring) remove(e *entry) {
	r.n--
	if e.next == e {
		r.hand = nil
	} else {
		e.prev.next, e.next.prev = e.next, e.prev
		if r.hand == e {
			r.hand = e.next
		}
	}
	e.prev, e.next = nil, nil
}

// victim returns the entry to evict: the first from the hand on that was
// not used since the hand last passed it, clearing the hot bit of those it
// passes. Each bit cleared is one set by a hit, so the cost per eviction is
// O(1) amortized; the sweep stops after two turns whatever hits do meanwhile.
func (r *ring) victim() *entry {
	for i := 0; i < 2*r.n; i++ {
		e := r.hand
		if !e.hot.Load() {
			return e
		}
		e.hot.Store(false)
		r.hand = e.next
	}
	return r.hand
}

// node is one segment of the name index: the entries whose file has the
// name of the path to this node, and the nodes beneath it.
type node struct {
	parent  *node
	seg     string
	kids    map[string]*node
	entries []*entry
}

// add indexes e under e.name.
func (n *node) add(e *entry) {
	if e.name != "." {
		for rest := e.name; rest != ""; {
			seg, r, _ := strings.Cut(rest, "/")
			rest = r
			k := n.kids[seg]
			if k == nil {
				if n.kids == nil {
					n.kids = make(map[string]*node)
				}
				k = &node{parent: n, seg: strings.Clone(seg)}
				n.kids[k.seg] = k
			}
			n = k
		}
	}
	n.entries = append(n.entries, e)
	e.node = n
}

// remove drops e from n, and n and its ancestors from the tree while they
// are empty.
func (n *node) remove(e *entry) {
	for i, x := range n.entries {
		if x == e {
			last := len(n.entries) - 1
			n.entries[i] = n.entries[last]
			n.entries[last] = nil
			n.entries = n.entries[:last]
			break
		}
	}
	e.node = nil
	for n.parent != nil && len(n.entries) == 0 && len(n.kids) == 0 {
		delete(n.parent.kids, n.seg)
		n = n.parent
	}
	if len(n.entries) == 0 {
		n.entries = nil
	}
}

// find returns the node for the name rel, or nil.
func (n *node) find(rel string) *node {
	for rest := rel; rest != "" && n != nil; {
		seg, r, _ := strings.Cut(rest, "/")
		rest = r
		n = n.kids[seg]
	}
	return n
}

// collect appends the entries of n and of every node beneath it.
func (n *node) collect(dst *[]*entry) {
	*dst = append(*dst, n.entries...)
	for _, k := range n.kids {
		k.collect(dst)
	}
}

func (c *cache) watchLocked(dir string) {
	if c.watcher == nil || c.watched[dir] {
		return
	}
	c.watched[dir] = true
	// A failure (for example too many watches) leaves the validity
	// period as the bound on staleness.
	c.watcher.Add(filepath.Join(c.root, filepath.FromSlash(dir)))
}

func (c *cache) watch() {
	defer close(c.done)
	for {
		select {
		case ev, ok := <-c.watcher.Events:
			if !ok {
				return
			}
			rel, err := filepath.Rel(c.root, ev.Name)
			if err != nil {
				c.invalidate("")
				continue
			}
			c.invalidate(filepath.ToSlash(rel))
		case _, ok := <-c.watcher.Errors:
			if !ok {
				return
			}
			c.invalidate("") // events were lost (queue overflow): trust nothing
		}
	}
}

func (c *cache) close() {
	if c.watcher != nil {
		c.watcher.Close()
		<-c.done
	}
	c.invalidate("")
}
