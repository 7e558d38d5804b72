package server

import (
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/sample"
	"github.com/weft-server/weft/internal/site"
)

// cacheLine is the size of a CPU cache line (64 bytes on amd64 and arm64),
// for padding.
const cacheLine = 64

// siteSwitch is the handler the in-process engines are given: it forwards
// each request to the site (or virtual hosts) of the current snapshot,
// which a reload replaces with one atomic store. A request sees one snapshot for each
// call, never a mix of two.
//
// The memory path (ServeFromMemory: a cached file) costs one atomic load
// and writes nothing shared. The disk path (ServeHTTP1: system calls
// anyway) counts itself in its snapshot, so that a retired site is closed
// only once no request can be in its disk path; see retire.
type siteSwitch struct {
	_   [cacheLine]byte
	cur atomic.Pointer[snapshot]
	_   [cacheLine - 8]byte
}

// handler is what a configuration serves: a *site.Site, or *site.Hosts
// for virtual hosts.
type handler interface {
	http1.MemoryHandler
	http1.BodyHandler
	Close() error
	Roots() []string        // the folders served, for /readyz
	Stats() site.CacheStats // the file cache, for /metrics
}

var (
	_ handler = (*site.Site)(nil)
	_ handler = (*site.Hosts)(nil)
)

// snapshot is one configuration's site, and the count of disk-path
// requests in it.
type snapshot struct {
	_    [cacheLine]byte
	site handler // read by every request
	_    [cacheLine - 16]byte
	// Written by disk-path requests only: kept off the memory path's
	// cache line.
	busy    atomic.Int64
	retired atomic.Bool
}

var (
	_ http1.MemoryHandler = (*siteSwitch)(nil)
	_ http1.BodyHandler   = (*siteSwitch)(nil)
)

// BodyLimit implements http1.BodyHandler: the current site decides
// (uploads). A reload that turns uploads off does not stop one under way.
func (sw *siteSwitch) BodyLimit(req *http1.Request) int64 {
	return sw.cur.Load().site.BodyLimit(req)
}

func newSwitch(st handler) *siteSwitch {
	sw := &siteSwitch{}
	sw.cur.Store(&snapshot{site: st})
	return sw
}

// ServeFromMemory implements http1.MemoryHandler. A retired site may still
// answer here for a moment after a swap: what it serves was current when
// the request arrived, and Site.Close tolerates it (see there).
func (sw *siteSwitch) ServeFromMemory(req *http1.Request, resp *http1.Response) bool {
	return sw.cur.Load().site.ServeFromMemory(req, resp)
}

// ServeHTTP1 implements http1.Handler. The count and the retired flag are
// atomics (sequentially consistent): either retire sees this request's
// count, and waits for it, or this request sees the snapshot retired, and
// takes the current one instead.
//
// A streamed body (a folder download) reads the site after ServeHTTP1 has
// returned, as it is sent: it counts in the snapshot until its producer
// is done (the plan's Closer, see http1.Stream), so that a reload under
// way lets it finish from the site it began with.
func (sw *siteSwitch) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	s := sw.enter()
	defer s.busy.Add(-1)
	s.site.ServeHTTP1(req, resp)
	if resp.Stream != nil {
		s.busy.Add(1)
		resp.Closer = &streamHold{s: s, next: resp.Closer}
	}
}

// streamHold counts a streamed body in its snapshot until closed.
type streamHold struct {
	s    *snapshot
	next io.Closer
	once sync.Once
}

func (h *streamHold) Close() error {
	var err error
	h.once.Do(func() {
		if h.next != nil {
			err = h.next.Close()
		}
		h.s.busy.Add(-1)
	})
	return err
}

// enter counts a disk-path request in the current snapshot and returns it.
func (sw *siteSwitch) enter() *snapshot {
	for {
		s := sw.cur.Load()
		s.busy.Add(1)
		if !s.retired.Load() {
			return s
		}
		s.busy.Add(-1)
	}
}

// swap makes st current and returns the snapshot it replaces.
func (sw *siteSwitch) swap(st handler) *snapshot {
	return sw.cur.Swap(&snapshot{site: st})
}

// retirer closes the sites that reloads replaced, once no request can
// still be in their disk path.
type retirer struct {
	log   *slog.Logger
	grace time.Duration // after which a site still busy is reported
	stop  chan struct{} // closed when the server stops: close at once
	wg    sync.WaitGroup
}

// retire closes s's site in the background as soon as no request is in
// its disk path. Requests already answered keep the cache entries they
// hold (they are counted per entry, see site.entry); a request answered
// from memory needs nothing the close takes away.
func (r *retirer) retire(s *snapshot) {
	s.retired.Store(true)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		since := time.Now()
		warned := false
		for s.busy.Load() != 0 {
			select {
			case <-r.stop:
				// Stopping: the engine has returned, so a request still
				// here was abandoned by the shutdown timeout and fails,
				// as on any shutdown.
				s.site.Close()
				return
			case <-tick.C:
			}
			if !warned && time.Since(since) > r.grace {
				warned = true
				r.log.Warn("reload: a request or a download still uses the old site; closing it once they are done", "after", r.grace)
			}
		}
		s.site.Close()
	}()
}

// shutdown closes every retired site now.
func (r *retirer) shutdown() {
	close(r.stop)
	r.wg.Wait()
}

// restartKeys lists the keys changed from old to now that take effect
// only on restart, given whether the workers are replaced on reload (the
// process engine).
func restartKeys(old, now *config.Config, workers bool) []string {
	var keys []string
	for _, name := range config.Changed(old, now) {
		k := config.Lookup(name)
		if k == nil {
			continue // the virtual hosts: live
		}
		switch k.Apply {
		case config.Live:
		case config.Workers:
			if !workers {
				keys = append(keys, name)
			}
		default:
			keys = append(keys, name)
		}
	}
	return keys
}

// reload reads the configuration again, opens its site and swaps it in;
// the old site is closed once no request can be using it. A configuration
// or a site that fails leaves the old one serving, and says why.
func (r *running) reload() {
	log := r.cfg.ErrorLog
	c, err := r.cfg.Reload()
	if err != nil {
		log.Error("reload: invalid configuration; still serving the old one", "err", err)
		return
	}
	scfg, hosts := c.Site(), c.Hosts()
	if err := checkListen(&scfg, hosts, r.cfg.Addr, r.cfg.TLS.On()); err != nil {
		log.Error("reload: still serving the old configuration", "err", err)
		return
	}
	if err := checkUploads(&scfg, hosts); err != nil {
		log.Error("reload: still serving the old configuration", "err", err)
		return
	}
	if err := r.privs.checkReload(&scfg, hosts, r.roots); err != nil {
		log.Error("reload: still serving the old configuration", "err", err)
		return
	}
	st, err := open(scfg, hosts, r.roots)
	if err != nil {
		log.Error("reload: cannot open the new site; still serving the old one", "err", err)
		return
	}
	r.ret.retire(r.sw.swap(st))
	attrs := []any{"file", c.File}
	if err := r.sec.Load().reloadCerts(); err != nil {
		attrs = append(attrs, "certificates", "kept the old ones", "err", err)
	}
	if r.cfg.Loaded != nil {
		if keys := restartKeys(r.cfg.Loaded, c, false); len(keys) > 0 {
			attrs = append(attrs, "needs_restart", strings.Join(keys, " "))
		}
	}
	log.Info("reload: serving the new configuration", attrs...)
}

// checkForWorkers validates the configuration before the process engine
// replaces its workers, hands it to the workers to come (see
// snapshotFile), and reports whether they may be replaced.
func (r *running) checkForWorkers() bool {
	log := r.cfg.ErrorLog
	c, err := r.cfg.Reload()
	if err != nil {
		log.Error("reload: invalid configuration; keeping the old workers", "err", err)
		return false
	}
	// The workers keep the supervisor's socket: the new configuration's
	// addr (a restart key) is not where they listen.
	scfg := c.Site()
	if err := checkListen(&scfg, c.Hosts(), r.cfg.Addr, false); err != nil { // the process engine serves no TLS
		log.Error("reload: keeping the old workers", "err", err)
		return false
	}
	if err := checkUploads(&scfg, c.Hosts()); err != nil {
		log.Error("reload: keeping the old workers", "err", err)
		return false
	}
	if err := r.privs.checkReload(&scfg, c.Hosts(), r.roots); err != nil {
		log.Error("reload: keeping the old workers", "err", err)
		return false
	}
	if err := Check(c, r.cfg.Builtin); err != nil {
		log.Error("reload: cannot open the new site; keeping the old workers", "err", err)
		return false
	}
	if r.snap != nil {
		if err := r.snap.write(c); err != nil {
			log.Error("reload: keeping the old workers", "err", err)
			return false
		}
	}
	attrs := []any{"file", c.File}
	if r.cfg.Loaded != nil {
		if keys := restartKeys(r.cfg.Loaded, c, true); len(keys) > 0 {
			attrs = append(attrs, "needs_restart", strings.Join(keys, " "))
		}
	}
	log.Info("reload: configuration valid; replacing the workers", attrs...)
	return true
}

// Check opens what c serves, as Run and a reload do, and closes it
// again: it reports what would stop weft from serving c here, such as a
// missing root, SPA file or error page. builtin is the site an empty
// root serves (see Config.Builtin).
func Check(c *config.Config, builtin fs.FS) error {
	roots := roots{site: builtin}
	defer roots.close()
	st, err := open(c.Site(), c.Hosts(), &roots)
	if err != nil {
		return err
	}
	return st.Close()
}

// open opens what a configuration serves: the virtual hosts when there
// are any, else the site; an empty root is the built-in sample site.
func open(scfg site.Config, hosts *site.HostsConfig, roots *roots) (handler, error) {
	var err error
	if hosts == nil {
		if scfg.Root, err = roots.resolve(scfg.Root); err != nil {
			return nil, err
		}
		return site.Open(scfg)
	}
	hc := *hosts
	hc.Sites = slices.Clone(hosts.Sites)
	for i := range hc.Sites {
		if hc.Sites[i].Site.Root, err = roots.resolve(hc.Sites[i].Site.Root); err != nil {
			return nil, err
		}
	}
	return site.OpenHosts(hc)
}

// checkListen refuses basic authentication over plain HTTP on addr beyond
// loopback (see site.Config.CheckListen). The configuration checks it
// too, against its own addr; this checks the address weft listens on
// (for a prefork worker, its inherited socket's).
func checkListen(scfg *site.Config, hosts *site.HostsConfig, addr string, tls bool) error {
	if hosts != nil {
		return hosts.CheckListen(addr, tls)
	}
	return scfg.CheckListen(addr, tls)
}

// roots finds the folder to serve for a site's root: the root itself, or
// for an empty one site (the built-in sample site when nil), extracted
// once (a prefork worker is given its supervisor's).
type roots struct {
	site    fs.FS
	mu      sync.Mutex
	sample  string
	cleanup func()
}

func (r *roots) resolve(root string) (string, error) {
	if root != "" {
		return root, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sample == "" {
		fsys := r.site
		if fsys == nil {
			fsys = sample.Site()
		}
		dir, _, err := sample.Extract(fsys)
		if err != nil {
			return "", err
		}
		r.sample, r.cleanup = dir, temporary(dir)
	}
	return r.sample, nil
}

func (r *roots) close() {
	if r.cleanup != nil {
		r.cleanup()
	}
}
