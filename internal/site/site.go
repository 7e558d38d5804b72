// Package site is weft's file-serving core: it turns a Request into a
// Response plan. It opens files beneath one root, a directory (through
// openat2 or os.Root, so nothing outside it is ever read) or an object
// store (an s3:// root, through package origin), by one small surface
// (see root.go); it never touches sockets.
package site

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/origin"
	"github.com/weft-server/weft/internal/s3conn"
)

// Config says what to serve and how.
type Config struct {
	Root      string // directory to serve, or an object store: s3://BUCKET/PREFIX (see Origin)
	Index     string // file served for a directory; "index.html" when empty
	Dotfiles  bool   // serve names beginning with "." (".well-known" always is)
	Listing   bool   // list directories that have no index file: HTML, JSON or plain text (see serveListing)
	MaxRanges int    // most ranges honoured in one request; 16 when zero

	// NoDownloads turns off folder downloads, which Listing turns on
	// (?download=zip or ?download=tar.gz on a folder; see archive.go).
	NoDownloads bool
	// DownloadMaxBytes caps the total size of the files of one folder
	// download: 413 when the folder is over it, a cut archive when its
	// files grow past it while sent; 0 for no cap.
	DownloadMaxBytes int64

	// MIME adds to or overrides the built-in content types: extension
	// (".ext" or "ext", any case) → type (see CheckMIME).
	MIME map[string]string

	Cache    CacheConfig
	Compress CompressConfig

	ETag           string      // ETagMtime (when empty) or ETagContent
	CacheControl   []CacheRule // first match wins; then the defaults (see cacheControl)
	NoCacheControl bool        // send no Cache-Control

	// Site rules, each documented with its type; all off when zero.
	// Paths in rules are matched decoded and cleaned, from the root
	// ("/docs/a.html"; see pathGlob for patterns).

	Headers  []HeaderRule // response headers per path pattern; every rule that matches applies, in order
	Security bool         // the security preset (see securityPreset) on every response; HSTS only over TLS
	HSTS     string       // Strict-Transport-Security value the preset sends over TLS; DefaultHSTS when empty
	CORS     *CORS        // cross-origin policy; nil for none

	Redirects     []Redirect // redirects and rewrites; the first that matches wins
	CleanURLs     bool       // "/about" serves about.html, "/about.html" redirects to "/about"
	TrailingSlash string     // "" (a directory redirects to its slashed path), TrailingSlashAdd or TrailingSlashRemove

	ErrorPages map[int]string // status (400-599) → file beneath the root sent with it (see errorPage)
	SPA        string         // file beneath the root that answers navigations to missing paths (see isNavigation); "" for none

	Auth              []AuthRule // basic authentication per path prefix; the longest that matches wins
	AuthFailures      int        // failed logins allowed per client per minute, then 429; DefaultAuthFailures when zero, negative for no limit
	AllowInsecureAuth bool       // let CheckListen accept authentication over plain HTTP beyond loopback

	Symlinks       string         // SymlinksConfine (when empty), SymlinksFollow or SymlinksDeny
	TrustedProxies []netip.Prefix // peers whose forwarding header names the client (see noteClient)

	// TrustedProxyHeader is the one forwarding header a trusted proxy's
	// client is read from: ProxyHeaderXForwardedFor (when empty) or
	// ProxyHeaderForwarded. The other is ignored, whether present or not:
	// a proxy passes through the one it does not write, so the client
	// could set it.
	TrustedProxyHeader string

	Upload UploadConfig // PUT and form uploads; off when zero (see upload.go)

	// Origin reaches and caches an s3:// Root (unused for a directory).
	// Its MemoryMax is set from Cache: objects the cache keeps in memory
	// are read whole, larger ones through the disk cache.
	Origin origin.Config
}

// Site serves the files beneath one directory. It is safe for concurrent use.
type Site struct {
	cfg     Config
	root    *os.Root      // the directory root; nil for an object store
	rootDir *os.File      // the root, for openat2 (Linux); nil where os.Root is used
	store   *origin.Store // the object-store root; nil for a directory
	cache   *cache
	reps    *reps
	hashes  hashes
	types   map[string]string // extension → content type: the built-in table with cfg.MIME
	up      *os.Root          // the upload folder, nil when uploads are off
	upDir   string            // its name beneath the root ("." for the root)

	// The rules, compiled.
	cacheRules []cacheRule
	headers    []headerRule
	cors       *corsPolicy
	redirects  []redirectRule
	auth       *authRules
	errorPages map[int]string // status → name beneath the root
	spa        string         // name beneath the root, or ""
	trusted    []netip.Prefix
	proxyHdr   string // TrustedProxyHeader, normalized
	hsts       string
	resolve    uint64 // openat2 resolve flags (Linux)
	hasHeaders bool   // a response not made from an entry may get header lines (see addHeaders)
	pathRules  bool   // a rule must see some paths before the cache answers (see slowPath)
}

var _ http1.MemoryHandler = (*Site)(nil)

// Roots returns the folder the site serves, as it was opened.
// An object store is not a folder: none for an s3:// root.
func (s *Site) Roots() []string {
	if s.store != nil {
		return nil
	}
	return []string{s.cfg.Root}
}

// Stats describe the site's file cache.
func (s *Site) Stats() CacheStats { return s.cache.counts() }

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
	st, err := compileRules(&cfg)
	if err != nil {
		return nil, err
	}
	if c := cfg.Compress; c.MinBytes < 0 || c.MaxBytes < 0 || (c.MaxBytes > 0 && c.MinBytes > c.MaxBytes) {
		return nil, fmt.Errorf("weft: compression sizes: minimum %d, maximum %d", c.MinBytes, c.MaxBytes)
	}
	types, err := mimeTable(cfg.MIME)
	if err != nil {
		return nil, err
	}
	if s3conn.IsURL(cfg.Root) {
		return st.openStore(cfg, types)
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
	if cfg.Upload.On {
		if st.up, st.upDir, err = openUploads(&cfg, root); err != nil {
			root.Close()
			return nil, err
		}
	}
	st.cfg, st.root, st.rootDir, st.types, st.reps = cfg, root, openRootDir(cfg.Root), types, newReps(cfg.Compress)
	st.cache = newCache(cfg.Cache, root.Name())
	st.cache.refresh = st.confirm
	if err := st.checkFiles(); err != nil {
		st.Close()
		return nil, err
	}
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
	if s.up != nil {
		s.up.Close()
	}
	if s.store != nil {
		return s.store.Close()
	}
	return s.root.Close()
}

const allow = "GET, HEAD, OPTIONS"

// ServeHTTP1 implements http1.Handler. The rules run in this order: the
// method (a CORS preflight is answered here); the path (400 when
// malformed, 404 for a dotfile); basic authentication; redirects and
// rewrites; clean URLs and the trailing-slash policy; the file, a
// directory's index or its listing; on a 404, a clean URL's page, then the
// single-page app's fallback; an error page for any failure. The header
// rules, CORS and HSTS are added last (see finish).
func (s *Site) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	s.noteClient(req, resp)
	p := s.serve(req, resp)
	s.finish(req, resp, p)
}

// serve plans the answer to req and returns the path the rules matched
// (see pathOf), "" when the request has none.
func (s *Site) serve(req *http1.Request, resp *http1.Response) string {
	switch req.Method {
	case http1.MethodGet, http1.MethodHead:
	case http1.MethodPut, http1.MethodPost:
		if s.up != nil {
			return s.serveUpload(req, resp)
		}
		s.errorPage(req, resp, 405)
		resp.AddHeader("Allow", allow)
		return ""
	case http1.MethodOptions:
		p := ""
		allowed := allow
		if name, trailing, err := resolve(req.Path, s.cfg.Dotfiles); err == nil {
			p = pathOf(name, trailing)
			allowed = s.allowAt(name, trailing)
		}
		if s.cors == nil || !s.cors.preflight(req, resp, p, allowed) {
			resp.Status = 200
			resp.AddHeader("Allow", allowed)
		}
		return p
	case http1.MethodOther:
		s.errorPage(req, resp, 501)
		return ""
	default:
		s.errorPage(req, resp, 405)
		allowed := allow
		if name, trailing, err := resolve(req.Path, s.cfg.Dotfiles); err == nil {
			allowed = s.allowAt(name, trailing)
		}
		resp.AddHeader("Allow", allowed)
		return ""
	}
	name, trailing, err := resolve(req.Path, s.cfg.Dotfiles)
	switch {
	case errors.Is(err, errBadPath):
		s.errorPage(req, resp, 400)
		return ""
	case err != nil:
		s.errorPage(req, resp, 404)
		return ""
	}
	p := pathOf(name, trailing)
	if !s.authorize(req, resp, p) {
		return p
	}
	authed := p // the path whose zone authorized the request
	rewritten := false
	if r, splat := s.matchRedirect(p); r != nil {
		to := r.target(splat)
		if r.status != 200 {
			redirect(req, resp, r.status, to)
			return p
		}
		to, _, _ = strings.Cut(to, "?")
		name, trailing, err = resolve([]byte(to), s.cfg.Dotfiles)
		if err != nil {
			s.errorPage(req, resp, 404)
			return p
		}
		to = pathOf(name, trailing)
		if !s.authorizeServed(req, resp, authed, to) {
			return p
		}
		authed = to
		if fi, err := s.stat(name); !trailing && err == nil && fi.IsDir() {
			trailing = true // a rewrite to a directory serves its index: no redirect the client would see
		}
		rewritten = true
	}
	if !rewritten {
		if loc := s.cleanRedirect(p, name); loc != "" {
			redirect(req, resp, 301, loc)
			return p
		}
		if s.cfg.TrailingSlash == TrailingSlashRemove && trailing && name != "." {
			redirect(req, resp, 301, escapePath(strings.TrimSuffix(p, "/")))
			return p
		}
	}
	st := s.serveName(req, resp, name, trailing, authed)
	if st == 404 && s.spa != "" && isNavigation(req, p) {
		if !s.authorizeServed(req, resp, authed, "/"+s.spa) {
			return p
		}
		st = s.serveName(req, resp, s.spa, false, authed)
	}
	if st == statusNoIndex {
		st = s.noIndex(resp)
	}
	if st != 0 {
		s.errorPage(req, resp, st)
	}
	return p
}

// serveName plans the answer for the resolved name, or, leaving resp
// untouched, returns the error status to answer with. The request has been
// authorized for the path authed; the file served, when another (a
// directory's index, a clean URL's page), is authorized too: an auth rule
// naming a file protects it whatever path serves it.
func (s *Site) serveName(req *http1.Request, resp *http1.Response, name string, trailing bool, authed string) int {
	key := name
	f, fi, err := s.open(name)
	if err != nil {
		if s.cfg.CleanURLs && name != "." && errors.Is(err, fs.ErrNotExist) {
			return s.serveClean(req, resp, name, trailing, authed)
		}
		return statusForError(err)
	}
	if fi.IsDir() {
		f.Close()
		if !trailing && s.cfg.TrailingSlash != TrailingSlashRemove {
			redirectToDir(req, resp)
			return 0
		}
		if s.downloads() && len(req.Query) > 0 {
			if format := downloadFormat(req.Query); format != "" {
				return s.serveArchive(req, resp, name, format, authed)
			}
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
				return s.serveListing(req, resp, name)
			}
			return statusNoIndex
		}
		if err != nil {
			return statusForError(err)
		}
		if !s.authorizeServed(req, resp, authed, "/"+index) {
			f.Close()
			return 0
		}
		key, name = name+"/", index
	} else if trailing {
		f.Close()
		return 404
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return 404
	}
	return s.serveFile(req, resp, f, fi, name, key)
}

// serveClean serves, under clean URLs, the page name+".html" for the
// missing name; a trailing slash must agree with the policy: with
// TrailingSlashAdd the page is served at "/name/" and "/name" redirects
// there, otherwise it is served at "/name" only.
func (s *Site) serveClean(req *http1.Request, resp *http1.Response, name string, trailing bool, authed string) int {
	page := name + ".html"
	f, fi, err := s.open(page)
	if err != nil {
		return 404
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return 404
	}
	if add := s.cfg.TrailingSlash == TrailingSlashAdd; trailing != add {
		f.Close()
		if add {
			redirect(req, resp, 301, escapePath("/"+name+"/"))
			return 0
		}
		return 404
	}
	if !s.authorizeServed(req, resp, authed, "/"+page) {
		f.Close()
		return 0
	}
	key := name
	if trailing {
		key += "/"
	}
	return s.serveFile(req, resp, f, fi, page, key)
}

// open opens name beneath the root without blocking on special files.
func (s *Site) open(name string) (File, fs.FileInfo, error) {
	if s.cfg.Dotfiles && isUploadTemp(name) {
		return nil, nil, fs.ErrNotExist // an upload under way (hidden anyway without Dotfiles)
	}
	f, err := s.openRoot(name)
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
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.ENOMEM),
		errors.Is(err, origin.ErrUnavailable):
		// Out of descriptors or memory, or the object store is down:
		// the file may well exist, and a 404 would tell clients and
		// caches otherwise.
		return 503
	case errors.Is(err, syscall.EIO), errors.Is(err, origin.ErrCache):
		return 500
	}
	// Escapes from the root, loops, names too long, not-a-directory:
	// to the client these are simply absent.
	return 404
}

// serveFile serves the regular file f, opened as name, through the cache
// under key (see fileEntry), or returns 500 when it cannot be read.
func (s *Site) serveFile(req *http1.Request, resp *http1.Response, f File, fi fs.FileInfo, name, key string) int {
	a := acceptOf(req)
	r, standin, err := s.fileEntry(f, fi, name, key, &a)
	if r == nil {
		if errors.Is(err, origin.ErrUnavailable) {
			return 503
		}
		return 500
	}
	s.serveEntry(req, resp, r, standin)
	return 0
}

// fileEntry returns the representation of the regular file f, opened as
// name, for a client that accepts a, through the cache under key (name, or
// what else a request names it by: a directory's name and "/" for its
// index, a clean URL for its page): a fresh entry is used as is, a stale
// one confirmed with f's metadata, and a missing or changed one built from
// f. The representation is acquired for a response that must Close it; it
// is nil when f cannot be read (err says why). standin: it stands in for
// one being built (see pick).
func (s *Site) fileEntry(f File, fi fs.FileInfo, name, key string, a *codec.Accept) (r *entry, standin bool, err error) {
	now := time.Now()
	if e := s.cache.lookup([]byte(key), now, false); e != nil {
		if e.name == name && e.sameFile(fi) && s.sidecarsSame(e) {
			f.Close()
			s.cache.shardOfString(key).hits.Add(1)
			e.checked.Store(now.UnixNano())
			r, build, standin := s.cache.choose(e, a)
			s.startBuild(e, build)
			return r, standin, nil
		}
		e.Close()
	}
	if s.cache.enabled() {
		s.cache.shardOfString(key).misses.Add(1)
	}
	cached := s.cache.enabled() && fi.Size() <= s.cache.maxFile
	e, err := newEntry(name, f, fi, cached, now)
	if err != nil {
		return nil, false, err
	}
	s.prepare(e, name, s.cache.enabled())
	// Pick before the entry is shared: nothing can release its
	// representations meanwhile.
	r, build, standin := e.pick(a)
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
		e.dropReps() // r, if one of them, holds its own reference
	}
	return r, standin, nil
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
// path longer than that space goes the disk path, and so does one that a
// rule must look at first (authentication, a redirect, a clean URL).
func (s *Site) ServeFromMemory(req *http1.Request, resp *http1.Response) bool {
	if req.Method != http1.MethodGet && req.Method != http1.MethodHead || !s.cache.enabled() {
		return false
	}
	var space [memoryPathMax + 2]byte
	if len(req.Path) > memoryPathMax {
		return false
	}
	space[0] = '/'
	b, dir, err := appendResolved(space[:1], req.Path, s.cfg.Dotfiles)
	if err != nil {
		return false
	}
	key := b[1:]
	if dir {
		key = append(key, '/')
	}
	p := "/"
	if len(key) > 2 || key[0] != '.' || len(key) == 2 && key[1] != '/' {
		p = b2s(space[:1+len(key)]) // not the root: "/" and the key
	}
	if s.pathRules && s.slowPath(p, dir) {
		return false
	}
	if len(req.Query) > 0 && s.downloads() && downloadFormat(req.Query) != "" {
		return false // perhaps a folder's archive, not its index
	}
	e, base, build, standin := s.cache.lookupFor(key, time.Now(), true, req)
	if e == nil {
		return false
	}
	if e.partial() {
		// A large object not all on disk: fetching waits on the store.
		e.Close()
		if build != codec.Identity {
			base.Close()
		}
		return false
	}
	s.startBuild(base, build)
	s.noteClient(req, resp)
	s.serveEntry(req, resp, e, standin)
	s.finish(req, resp, p)
	return true
}

// slowPath reports whether a rule must see the request for the path p
// before a cached entry may answer it: an auth rule covers p or the file
// the entry may hold (a directory's index, a clean URL's page).
func (s *Site) slowPath(p string, dir bool) bool {
	if s.auth != nil {
		if s.auth.covers(p) {
			return true
		}
		if dir && s.auth.coversJoined(p, s.cfg.Index) {
			return true
		}
		if s.cfg.CleanURLs && p != "/" && s.auth.coversJoined(strings.TrimSuffix(p, "/"), ".html") {
			return true
		}
	}
	if r, _ := s.matchRedirect(p); r != nil {
		return true
	}
	return s.cfg.CleanURLs && strings.HasSuffix(p, ".html") ||
		s.cfg.TrailingSlash == TrailingSlashRemove && dir && p != "/"
}

// finish adds to the planned response what the rules add last: for one
// not made from an entry (whose lines are pre-rendered), the header set
// of the path p; for an allowed origin, the CORS lines that echo it; over
// TLS, the preset's HSTS. For a request without Origin over plain HTTP
// this adds nothing to an entry's response.
func (s *Site) finish(req *http1.Request, resp *http1.Response, p string) {
	if resp.Fixed.Text == nil {
		s.addHeaders(resp, p)
	}
	if s.cors != nil && len(req.Origin) > 0 && s.cors.allowed(req.Origin, p) {
		s.cors.addLines(resp, req.Origin)
	}
	if req.TLS && s.cfg.Security {
		resp.AddHeader("Strict-Transport-Security", s.hsts)
	}
}

// memoryPathMax is the longest request path ServeFromMemory resolves.
const memoryPathMax = 1024

// planMultipart turns resp into a multipart/byteranges response (RFC 9110
// §14.6) whose parts send segments of f. Its Content-Type replaces the
// file's.
func planMultipart(resp *http1.Response, e *entry, h *heads, ranges []byteRange) {
	boundary := boundaryFor(e.etag)
	resp.Body, resp.File, resp.Len = nil, nil, 0
	resp.Fixed = h.rest // the representation's header lines but its Content-Type
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
			p.File, p.Off, p.Len = e.sendable(), r.start, r.length
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

var slash, question = []byte("/"), []byte("?")

// redirectToDir answers a request for a directory without its trailing
// slash with a permanent redirect to the slashed path, keeping the query.
func redirectToDir(req *http1.Request, resp *http1.Response) {
	p := req.Path
	// Never emit "//host": a protocol-relative Location would leave the site.
	for len(p) > 1 && p[0] == '/' && p[1] == '/' {
		p = p[1:]
	}
	http1.ErrorPage(resp, 301)
	if req.Query != nil {
		resp.Header.AddJoined("Location", p, slash, question, req.Query)
	} else {
		resp.Header.AddJoined("Location", p, slash)
	}
}
