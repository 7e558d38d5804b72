package site

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
)

// entry is one representation of a file (RFC 9110 §3.2): its validators,
// its pre-rendered header lines, and its content, held in memory (small
// files) or as an open descriptor (large ones, for sendfile). The entry
// of the file as it lies on disk (identity) is the one the cache keys; it
// owns the file's other representations (reps): precompressed sidecars
// found beside it and variants compressed on the fly. Entries in the cache
// are shared by every connection and never modified after creation,
// except for their atomic fields and the links the cache keeps under its
// lock.
type entry struct {
	name   string // the file beneath the root (a sidecar's own name for a sidecar)
	fi     fs.FileInfo
	size   int64
	mod    time.Time
	ctype  string
	coding codec.Coding
	heads  [2]heads // the header lines: as configured; and for a stand-in (see pick), if they differ
	etag   []byte   // the entity-tag, quotes included
	vary   bool     // the file has or may have other representations

	body []byte // whole content, or nil
	file File   // open file when body is nil
	gen  uint64 // the root's generation it was read under (an object store's version; 0 for a directory)

	refs    atomic.Int32 // file entries: the cache's reference plus one per response in flight
	checked atomic.Int64 // when the file was last confirmed unchanged (UnixNano)
	hot     atomic.Bool  // used since the eviction hand last passed (CLOCK)
	recheck atomic.Bool  // an object store's entry being confirmed (see Site.recheck)

	// Identity entries only (see rep.go).
	reps  [codec.N]atomic.Pointer[entry] // ready representations by coding
	state atomic.Uint32                  // codings possible (low byte) and being built (next byte)

	// Owned by the cache, under its lock.
	key        string // the cache key: name, or a directory's name and "/" for its index
	cost       int64  // bytes charged against the budget, representations included
	prev, next *entry // the CLOCK ring
	node       *node  // the name index
}

var _ io.Closer = (*entry)(nil)

// headSpec is what an entry's header lines say besides its validators.
type headSpec struct {
	ctype  string
	coding codec.Coding
	vary   bool      // the file has or may have other representations
	hs     headerSet // Cache-Control and the lines of the path's rules (see fileHeaders)
}

// heads are the pre-rendered header fields of a representation.
type heads struct {
	all  http1.Fields // of a 200: Content-Type, [Content-Encoding], then h304, then Accept-Ranges
	h304 http1.Fields // of a 304: [Vary], [Cache-Control], ETag, Last-Modified; within all
	rest http1.Fields // all but the Content-Type field, for multipart/byteranges
}

// render sets e's header lines: its Content-Type and Content-Encoding,
// then what a 304 repeats (RFC 9110 §15.4.5: Vary, Cache-Control, ETag,
// Last-Modified, and the lines of the path's rules, so that a cache
// refreshing its copy with the 304 keeps them), then Accept-Ranges. etag
// is the entity-tag, quotes included. A representation with a
// Cache-Control other than no-cache gets a second set saying no-cache, for
// when it stands in for one being built (see pick): a shared cache must
// not keep the stand-in for as long as the representation the client
// would rather have.
func (e *entry) render(h headSpec, etag []byte) {
	e.ctype, e.coding, e.vary = h.ctype, h.coding, h.vary
	e.heads[0] = renderHeads(h, etag, e.mod)
	e.etag = etag
	if h.vary && h.hs.cc != "" && h.hs.cc != NoCache {
		h.hs.cc = NoCache
		e.heads[1] = renderHeads(h, etag, e.mod)
	} else {
		e.heads[1] = e.heads[0]
	}
}

func renderHeads(h headSpec, etag []byte, mod time.Time) heads {
	var f http1.Fields
	f.Add("Content-Type", h.ctype)
	if h.coding != codec.Identity {
		f.Add("Content-Encoding", h.coding.Token())
	}
	start := f.Len()
	switch {
	case h.vary && h.hs.varyOrigin:
		f.Add("Vary", "Accept-Encoding, Origin")
	case h.vary:
		f.Add("Vary", "Accept-Encoding")
	case h.hs.varyOrigin:
		f.Add("Vary", "Origin")
	}
	if h.hs.cc != "" {
		f.Add("Cache-Control", h.hs.cc)
	}
	f.AddBytes("ETag", etag)
	if !h.hs.noLastModified {
		var date [len(http1.TimeFormat)]byte
		f.AddBytes("Last-Modified", http1.AppendDate(date[:0], mod))
	}
	h.hs.addTo(&f)
	end := f.Len()
	if !h.hs.noAcceptRanges {
		f.Add("Accept-Ranges", "bytes")
	}
	all := f.Clone()
	return heads{all: all, h304: all.Slice(start, end), rest: all.Slice(1, all.Len())}
}

// newEntry describes the open file f (of info fi). With load, it reads the
// whole content and closes f; otherwise the entry keeps f open with one
// reference, for the caller. Its header lines are rendered by the caller
// (see render), once the content is known: a validator may hash it.
func newEntry(name string, f File, fi fs.FileInfo, load bool, now time.Time) (*entry, error) {
	e := &entry{name: name, fi: fi, size: fi.Size(), mod: fi.ModTime()}
	if o, ok := fi.Sys().(objectInfo); ok {
		e.gen = o.Generation()
	}
	if load {
		body := make([]byte, e.size)
		n, err := f.ReadAt(body, 0)
		f.Close()
		if int64(n) != e.size {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("weft: %s changed while being read", name)
			}
			return nil, err
		}
		e.body = body
	} else {
		e.file = f
		e.refs.Store(1)
	}
	e.checked.Store(now.UnixNano())
	return e, nil
}

// Close releases one reference to a file entry; the last one closes the
// file. Entries held in memory are not counted: their bytes are the
// garbage collector's to free.
func (e *entry) Close() error {
	if e.file != nil && e.refs.Add(-1) == 0 {
		return e.file.Close()
	}
	return nil
}

// acquire takes a reference for a response (see Close).
func (e *entry) acquire() {
	if e.file != nil {
		e.refs.Add(1)
	}
}

// entryOverhead is what an entry holds beyond its variable-length fields:
// the entry itself, its FileInfo, its slot in a shard's map and its node in
// the name index, rounded up (TestCacheMemoryBound checks the charge against the live heap).
const entryOverhead = 640

// nodeOverhead is charged for each segment of an entry's name: the index
// may hold a node per segment.
const nodeOverhead = 160

// charge sets what e counts against the cache's memory budget: every byte
// it holds.
func (e *entry) charge() {
	segs := int64(1 + strings.Count(e.name, "/"))
	e.cost = entryOverhead + segs*nodeOverhead + int64(len(e.key)+2*len(e.name)) + e.headCost() + int64(cap(e.body))
	for i := range e.reps {
		if r := e.reps[i].Load(); r != nil {
			e.cost += r.repCost()
		}
	}
}

// repCost is what a representation other than identity holds.
func (e *entry) repCost() int64 {
	return entryOverhead + int64(len(e.name)+cap(e.body)) + e.headCost()
}

// headCost is the bytes of e's header lines and entity-tag.
func (e *entry) headCost() int64 {
	n := int64(cap(e.heads[0].all.Text) + cap(e.etag))
	if t := e.heads[1].all.Text; len(t) > 0 && &t[0] != &e.heads[0].all.Text[0] {
		n += int64(cap(t))
	}
	return n
}

// sameFile reports whether fi still describes the file e was made from.
func (e *entry) sameFile(fi fs.FileInfo) bool {
	return sameObject(e.fi, fi) && fi.Size() == e.size && fi.ModTime().Equal(e.mod) && fi.Mode() == e.fi.Mode()
}

// sameObject reports whether a and b describe the same file: the same
// inode, or the same object of the store with the same bytes.
func sameObject(a, b fs.FileInfo) bool {
	oa, ok := a.Sys().(objectInfo)
	if !ok {
		return os.SameFile(a, b)
	}
	ob, ok := b.Sys().(objectInfo)
	return ok && oa.Identity() == ob.Identity() && oa.Generation() == ob.Generation()
}

// serveEntry plans the response to req from e, which the caller has
// acquired a reference to; the response releases it. standin: e is sent
// in place of a representation being built (see pick).
func (s *Site) serveEntry(req *http1.Request, resp *http1.Response, e *entry, standin bool) {
	s.planEntry(req, resp, e, standin)
	if e.body == nil && resp.Closer == e && req.Method != http1.MethodHead && !e.ensureBody(resp) {
		// The store could not give the bytes (a large object not on
		// disk yet): 503, not a response cut short.
		resp.Closer, resp.File, resp.Len, resp.Parts = nil, nil, 0, resp.Parts[:0]
		e.Close()
		resp.Header.Reset()
		http1.ErrorPage(resp, 503)
	}
}

// ensureBody makes the file segments resp sends of e local (see ensure).
func (e *entry) ensureBody(resp *http1.Response) bool {
	if resp.File != nil {
		return e.ensure(resp.Off, resp.Len)
	}
	for _, p := range resp.Parts {
		if p.File != nil && !e.ensure(p.Off, p.Len) {
			return false
		}
	}
	return true
}

// planEntry is serveEntry's plan, before the bytes are made local.
func (s *Site) planEntry(req *http1.Request, resp *http1.Response, e *entry, standin bool) {
	h := &e.heads[0]
	if standin {
		h = &e.heads[1]
	}
	if st := checkPreconditions(req, e.etag, e.mod); st != 0 {
		e.Close()
		resp.Status = st
		if st == 304 {
			resp.Fixed = h.h304
		} else {
			http1.ErrorPage(resp, st)
		}
		return
	}
	resp.Status = 200
	resp.Fixed = h.all
	resp.Closer = e
	e.setBody(resp, 0, e.size)

	// A date in If-Range cannot tell representations apart: they share
	// the file's Last-Modified. With several, only an entity-tag holds.
	if len(req.Range) == 0 || req.Method != http1.MethodGet || !checkIfRange(req.IfRange, e.etag, e.mod, !e.vary) {
		return
	}
	var space [4]byteRange
	ranges, err := parseRange(req.Range, e.size, s.cfg.MaxRanges, space[:0])
	switch {
	case err != nil:
		resp.Status = 416
		resp.Fixed = h.h304 // validators, no Content-Type or -Encoding for the empty body
		resp.Body, resp.File, resp.Len = nil, nil, 0
		var b [32]byte
		resp.Header.AddBytes("Content-Range", strconv.AppendInt(append(b[:0], "bytes */"...), e.size, 10))
		return
	case len(ranges) == 0:
		return
	}
	resp.Status = 206
	if len(ranges) == 1 {
		r := ranges[0]
		e.setBody(resp, r.start, r.length)
		var b [64]byte
		resp.Header.AddBytes("Content-Range", appendContentRange(b[:0], r, e.size))
		return
	}
	planMultipart(resp, e, h, ranges)
}

// setBody makes [off, off+n) of e the response body.
func (e *entry) setBody(resp *http1.Response, off, n int64) {
	if e.body != nil {
		resp.Body = e.body[off : off+n]
		resp.File = nil
		return
	}
	resp.File, resp.Off, resp.Len = e.sendable(), off, n
}
