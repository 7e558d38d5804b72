package site

import (
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
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
// checked again (off the event loop), so nothing stale is served for
// longer than Validity.
type CacheConfig struct {
	MaxBytes int64         // memory for file contents; 64 MiB when zero; negative disables the cache
	MaxFile  int64         // largest file held in memory; 32 KiB when zero (sendfile beats a copy beyond)
	MaxOpen  int           // most large files held open; 1000 when zero
	Validity time.Duration // longest an entry goes unchecked; 1s when zero
	// NoWatch relies on Validity alone, for file systems where inotify
	// reports nothing (NFS and other network mounts).
	NoWatch bool
}

type cache struct {
	maxBytes int64
	maxFile  int64
	maxOpen  int
	validity int64 // nanoseconds

	mu    sync.RWMutex
	m     map[string]*entry // by request path
	bytes int64
	open  int

	root    string // absolute path of the root, for the watcher
	watcher *fsnotify.Watcher
	watched map[string]bool
	done    chan struct{}
}

func newCache(cfg CacheConfig, root string) *cache {
	c := &cache{maxBytes: cfg.MaxBytes, maxFile: cfg.MaxFile, maxOpen: cfg.MaxOpen, validity: int64(cfg.Validity)}
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
	c.m = make(map[string]*entry)
	if c.maxBytes < 0 {
		return c
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

// lookup returns the entry cached for the request path key, with a
// reference the caller must release, or nil. With fresh, only an entry
// confirmed within the validity period is returned.
func (c *cache) lookup(key []byte, now time.Time, fresh bool) *entry {
	if !c.enabled() {
		return nil
	}
	c.mu.RLock()
	e := c.m[string(key)]
	if e == nil || (fresh && now.UnixNano()-e.checked.Load() > c.validity) {
		c.mu.RUnlock()
		return nil
	}
	e.refs.Add(1)
	c.mu.RUnlock()
	if sec := now.Unix(); e.lastUsed.Load() != sec {
		e.lastUsed.Store(sec)
	}
	return e
}

// insert caches e under key, replacing what was there, if it fits.
func (c *cache) insert(key string, e *entry) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[key]; old != nil {
		c.removeLocked(key, old)
	}
	if e.body != nil {
		if e.cost() > c.maxBytes/4 {
			return
		}
		for c.bytes+e.cost() > c.maxBytes && c.evictLocked(func(x *entry) bool { return x.body != nil }) {
		}
		c.bytes += e.cost()
	} else {
		for c.open >= c.maxOpen && c.evictLocked(func(x *entry) bool { return x.file != nil }) {
		}
		c.open++
	}
	e.refs.Add(1) // the cache's own reference
	e.cached = true
	c.m[key] = e
	c.watchLocked(path.Dir(e.name))
}

// removeLocked drops the entry for key and the cache's reference to it.
func (c *cache) removeLocked(key string, e *entry) {
	delete(c.m, key)
	if e.body != nil {
		c.bytes -= e.cost()
	} else {
		c.open--
	}
	e.Close()
}

// evictLocked drops the least recently used entry that match accepts.
func (c *cache) evictLocked(match func(*entry) bool) bool {
	var victim string
	var oldest *entry
	for k, e := range c.m {
		if match(e) && (oldest == nil || e.lastUsed.Load() < oldest.lastUsed.Load()) {
			victim, oldest = k, e
		}
	}
	if oldest == nil {
		return false
	}
	c.removeLocked(victim, oldest)
	return true
}

// invalidate drops every entry for the file or directory rel (beneath the
// root), or every entry when rel is "".
func (c *cache) invalidate(rel string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if rel == "" || e.name == rel || strings.HasPrefix(e.name, rel+"/") {
			c.removeLocked(k, e)
		}
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
