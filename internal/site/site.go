// Package site is weft's file-serving core: it turns a Request into a
// Response plan. It opens files beneath one root through os.Root, so nothing
// outside the root is ever read; it never touches sockets.
package site

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
)

// Config says what to serve and how.
type Config struct {
	Root      string // directory to serve
	Index     string // file served for a directory; "index.html" when empty
	Dotfiles  bool   // serve names beginning with "." (".well-known" always is)
	Listing   bool   // list directories that have no index file
	MaxRanges int    // most ranges honoured in one request; 16 when zero

	// MIME adds to or overrides the built-in content types: extension
	// (".ext" or "ext", any case) → type (see CheckMIME).
	MIME map[string]string

	Cache    CacheConfig
	Compress CompressConfig

	ETag           string      // ETagMtime (when empty) or ETagContent
	CacheControl   []CacheRule // first match wins; then the defaults (see cacheControl)
	NoCacheControl bool        // send no Cache-Control
}

// Site serves the files beneath one directory. It is safe for concurrent use.
type Site struct {
	cfg     Config
	root    *os.Root
	rootDir *os.File // the root, for openat2 (Linux); nil where os.Root is used
	cache   *cache
	reps    *reps
	hashes  hashes
	types   map[string]string // extension → content type: the built-in table with cfg.MIME
}

var _ http1.MemoryHandler = (*Site)(nil)

// Open opens cfg.Root for serving.
func Open(cfg Config) (*Site, error) {
	if cfg.Index == "" {
		cfg.Index = "index.html"
	}
	if cfg.MaxRanges <= 0 {
		cfg.MaxRanges = 16
	}
	switch cfg.ETag {
	case "":
		cfg.ETag = ETagMtime
	case ETagMtime, ETagContent:
	default:
		return nil, fmt.Errorf("weft: etag %q: want %s or %s", cfg.ETag, ETagMtime, ETagContent)
	}
	if err := checkRules(cfg.CacheControl); err != nil {
		return nil, err
	}
	if c := cfg.Compress; c.MinBytes < 0 || c.MaxBytes < 0 || (c.MaxBytes > 0 && c.MinBytes > c.MaxBytes) {
		return nil, fmt.Errorf("weft: compression sizes: minimum %d, maximum %d", c.MinBytes, c.MaxBytes)
	}
	types, err := mimeTable(cfg.MIME)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("weft: document root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("weft: document root %s: not a directory", cfg.Root)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("weft: document root: %w", err)
	}
	if _, err := root.FS().(fs.ReadDirFS).ReadDir("."); err != nil {
		root.Close()
		return nil, fmt.Errorf("weft: document root: %w", err)
	}
	st := &Site{cfg: cfg, root: root, rootDir: openRootDir(cfg.Root), types: types, reps: newReps(cfg.Compress)}
	st.cache = newCache(cfg.Cache, root.Name())
	return st, nil
}

// Close releases the root and the cache, once builds under way are done.
// Responses planned before keep the entries they hold. No request may be
// in ServeHTTP1 (the disk path) any more; one in ServeFromMemory may, and
// is answered from the entries it finds or misses.
func (s *Site) Close() error {
	s.reps.close()
	s.cache.close()
	if s.rootDir != nil {
		s.rootDir.Close()
	}
	return s.root.Close()
}

const allow = "GET, HEAD, OPTIONS"

// ServeHTTP1 implements http1.Handler.
func (s *Site) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	switch req.Method {
	case http1.MethodGet, http1.MethodHead:
	case http1.MethodOptions:
		resp.Status = 200
		resp.AddHeader("Allow", allow)
		return
	case http1.MethodOther:
		http1.ErrorPage(resp, 501)
		return
	default:
		http1.ErrorPage(resp, 405)
		resp.AddHeader("Allow", allow)
		return
	}
	name, trailing, err := resolve(req.Path, s.cfg.Dotfiles)
	switch {
	case errors.Is(err, errBadPath):
		http1.ErrorPage(resp, 400)
		return
	case err != nil:
		http1.ErrorPage(resp, 404)
		return
	}
	s.serveName(req, resp, name, trailing)
}

func (s *Site) serveName(req *http1.Request, resp *http1.Response, name string, trailing bool) {
	key := name
	f, fi, err := s.open(name)
	if err != nil {
		http1.ErrorPage(resp, statusForError(err))
		return
	}
	if fi.IsDir() {
		f.Close()
		if !trailing {
			redirectToDir(req, resp)
			return
		}
		index := s.cfg.Index
		if name != "." {
			index = name + "/" + index
		}
		f, fi, err = s.open(index)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
			if f != nil {
				f.Close()
			}
			if s.cfg.Listing {
				s.serveListing(req, resp, name)
				return
			}
			http1.ErrorPage(resp, 403)
			return
		}
		if err != nil {
			http1.ErrorPage(resp, statusForError(err))
			return
		}
		key, name = name+"/", index
	} else if trailing {
		f.Close()
		http1.ErrorPage(resp, 404)
		return
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		http1.ErrorPage(resp, 404)
		return
	}
	s.serveFile(req, resp, f, fi, name, key)
}

// open opens name beneath the root without blocking on special files.
func (s *Site) open(name string) (*os.File, fs.FileInfo, error) {
	f, err := s.openFile(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func statusForError(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 404
	case errors.Is(err, fs.ErrPermission):
		return 403
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.ENOMEM):
		// Out of descriptors or memory: the file may well exist, and a
		// 404 would tell clients and caches otherwise.
		return 503
	case errors.Is(err, syscall.EIO):
		return 500
	}
	// Escapes from the root, loops, names too long, not-a-directory:
	// to the client these are simply absent.
	return 404
}

// serveFile serves the regular file f, opened as name, through the cache
// under key (name, or a directory's name and "/" when name is its index):
// a fresh entry is used as is, a stale one confirmed with f's metadata, and
// a missing or changed one built from f.
func (s *Site) serveFile(req *http1.Request, resp *http1.Response, f *os.File, fi fs.FileInfo, name, key string) {
	now := time.Now()
	a := acceptOf(req)
	if e := s.cache.lookup([]byte(key), now, false); e != nil {
		if e.name == name && e.sameFile(fi) && s.sidecarsSame(e) {
			f.Close()
			e.checked.Store(now.UnixNano())
			r, build := s.cache.choose(e, &a)
			s.startBuild(e, build)
			s.serveEntry(req, resp, r)
			return
		}
		e.Close()
	}
	cached := s.cache.enabled() && fi.Size() <= s.cache.maxFile
	e, err := newEntry(name, f, fi, cached, now)
	if err != nil {
		http1.ErrorPage(resp, 500)
		return
	}
	s.prepare(e, name, s.cache.enabled())
	// Pick before the entry is shared: nothing can release its
	// representations meanwhile.
	r, build := e.pick(&a)
	if r != e {
		r.acquire()
	}
	inserted := s.cache.insert(key, e)
	if r != e {
		e.Close() // after insert has taken the cache's reference
	}
	if inserted {
		if build != codec.Identity {
			e.acquire()
			s.startBuild(e, build)
		}
	} else {
		if build != codec.Identity {
			e.drop(build)
		}
		defer e.dropReps() // once r is acquired for the response
	}
	s.serveEntry(req, resp, r)
}

// startBuild starts the build of base's variant in coding c (see
// lookupFor), if any.
func (s *Site) startBuild(base *entry, c codec.Coding) {
	if c != codec.Identity {
		s.build(base, c)
	}
}

// ServeFromMemory implements http1.MemoryHandler: it answers GET and HEAD
// for paths whose entries are cached and fresh, without touching the disk.
// It resolves the path into stack space, so a hit allocates nothing; a
// path longer than that space goes the disk path.
func (s *Site) ServeFromMemory(req *http1.Request, resp *http1.Response) bool {
	if req.Method != http1.MethodGet && req.Method != http1.MethodHead || !s.cache.enabled() {
		return false
	}
	var space [memoryPathMax + 1]byte
	if len(req.Path) > memoryPathMax {
		return false
	}
	key, dir, err := appendResolved(space[:0], req.Path, s.cfg.Dotfiles)
	if err != nil {
		return false
	}
	if dir {
		key = append(key, '/')
	}
	a := acceptOf(req)
	e, base, build := s.cache.lookupFor(key, time.Now(), true, &a)
	if e == nil {
		return false
	}
	s.startBuild(base, build)
	s.serveEntry(req, resp, e)
	return true
}

// memoryPathMax is the longest request path ServeFromMemory resolves.
const memoryPathMax = 1024

// planMultipart turns resp into a multipart/byteranges response (RFC 9110
// §14.6) whose parts send segments of f. Its Content-Type replaces the
// file's.
func planMultipart(resp *http1.Response, e *entry, ranges []byteRange) {
	boundary := boundaryFor(e.etag)
	resp.Body, resp.File, resp.Len = nil, nil, 0
	resp.Fixed = e.rest // the representation's header lines but its Content-Type
	resp.AddHeader("Content-Type", "multipart/byteranges; boundary="+boundary)
	for i, r := range ranges {
		var head []byte
		if i > 0 {
			head = append(head, "\r\n"...)
		}
		head = append(head, "--"+boundary+"\r\nContent-Type: "+e.ctype+"\r\nContent-Range: "...)
		head = appendContentRange(head, r, e.size)
		head = append(head, "\r\n\r\n"...)
		p := http1.Part{Head: head}
		if e.body != nil {
			p.Data = e.body[r.start : r.start+r.length]
		} else {
			p.File, p.Off, p.Len = e.file, r.start, r.length
		}
		resp.Parts = append(resp.Parts, p)
	}
	resp.Parts = append(resp.Parts, http1.Part{Head: []byte("\r\n--" + boundary + "--\r\n")})
}

func appendContentRange(dst []byte, r byteRange, size int64) []byte {
	dst = append(dst, "bytes "...)
	dst = strconv.AppendInt(dst, r.start, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, r.start+r.length-1, 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}

// boundaryFor derives a multipart boundary from the ETag, so that the same
// request gets the same bytes from every engine.
func boundaryFor(etag []byte) string {
	h := fnv.New64a()
	h.Write(etag)
	return fmt.Sprintf("weft-%016x", h.Sum64())
}

// appendETag appends a strong validator built from size and modification
// time, as nginx does: it changes whenever the file does. The time is its
// seconds in hex then its nanoseconds as eight hex digits, so it is exact
// for any date (UnixNano overflows after 2262).
func appendETag(dst []byte, size int64, mod time.Time) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, uint64(mod.Unix()), 16)
	ns := uint32(mod.Nanosecond())
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, "0123456789abcdef"[ns>>shift&0xf])
	}
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, size, 16)
	return append(dst, '"')
}

// redirectToDir answers a request for a directory without its trailing
// slash with a permanent redirect to the slashed path, keeping the query.
func redirectToDir(req *http1.Request, resp *http1.Response) {
	p := req.Path
	// Never emit "//host": a protocol-relative Location would leave the site.
	for len(p) > 1 && p[0] == '/' && p[1] == '/' {
		p = p[1:]
	}
	http1.ErrorPage(resp, 301)
	resp.Header = append(resp.Header, "Location: "...)
	resp.Header = append(resp.Header, p...)
	resp.Header = append(resp.Header, '/')
	if req.Query != nil {
		resp.Header = append(resp.Header, '?')
		resp.Header = append(resp.Header, req.Query...)
	}
	resp.Header = append(resp.Header, "\r\n"...)
}
