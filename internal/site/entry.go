package site

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// entry is one file's representation: its validators, its pre-rendered
// header lines, and its content, held in memory (small files) or as an
// open descriptor (large ones, for sendfile). Entries in the cache are
// shared by every connection and never modified after creation, except
// for their atomic fields and the links the cache keeps under its lock.
type entry struct {
	name  string // the file beneath the root
	fi    fs.FileInfo
	size  int64
	mod   time.Time
	ctype string
	head  []byte // header lines of a 200: Content-Type, ETag, Last-Modified, Accept-Ranges
	etag  []byte // within head
	h304  []byte // header lines of a 304 (ETag, Last-Modified), within head

	body []byte   // whole content, or nil
	file *os.File // open file when body is nil

	refs    atomic.Int32 // file entries: the cache's reference plus one per response in flight
	checked atomic.Int64 // when the file was last confirmed unchanged (UnixNano)
	hot     atomic.Bool  // used since the eviction hand last passed (CLOCK)

	// Owned by the cache, under its lock.
	key        string // the cache key: name, or a directory's name and "/" for its index
	cost       int64  // bytes charged against the budget
	prev, next *entry // the CLOCK ring
	node       *node  // the name index
}

var _ io.Closer = (*entry)(nil)

// newEntry describes the open file f (of info fi), of content type ctype. With load, it reads the
// whole content and closes f; otherwise the entry keeps f open with one
// reference, for the caller.
func newEntry(name, ctype string, f *os.File, fi fs.FileInfo, load bool, now time.Time) (*entry, error) {
	e := &entry{name: name, fi: fi, size: fi.Size(), mod: fi.ModTime(), ctype: ctype}
	var space [256]byte
	h := append(space[:0], "Content-Type: "...)
	h = append(h, e.ctype...)
	h = append(h, "\r\n"...)
	start := len(h)
	h = append(h, "ETag: "...)
	tag := len(h)
	h = appendETag(h, e.size, e.mod)
	tagEnd := len(h)
	h = append(h, "\r\nLast-Modified: "...)
	h = http1.AppendDate(h, e.mod)
	h = append(h, "\r\n"...)
	end := len(h)
	h = append(h, "Accept-Ranges: bytes\r\n"...)
	e.head = bytes.Clone(h)
	e.etag = e.head[tag:tagEnd:tagEnd]
	e.h304 = e.head[start:end:end]
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
	e.cost = entryOverhead + segs*nodeOverhead + int64(len(e.key)+2*len(e.name)) + int64(cap(e.head)+cap(e.body))
}

// sameFile reports whether fi still describes the file e was made from.
func (e *entry) sameFile(fi fs.FileInfo) bool {
	return os.SameFile(e.fi, fi) && fi.Size() == e.size && fi.ModTime().Equal(e.mod) && fi.Mode() == e.fi.Mode()
}

// serveEntry plans the response to req from e, which the caller has
// acquired a reference to; the response releases it.
func (s *Site) serveEntry(req *http1.Request, resp *http1.Response, e *entry) {
	if st := checkPreconditions(req, e.etag, e.mod); st != 0 {
		e.Close()
		resp.Status = st
		if st == 304 {
			resp.Fixed = e.h304
		} else {
			http1.ErrorPage(resp, st)
		}
		return
	}
	resp.Status = 200
	resp.Fixed = e.head
	resp.Closer = e
	e.setBody(resp, 0, e.size)

	if len(req.Range) == 0 || req.Method != http1.MethodGet || !checkIfRange(req.IfRange, e.etag, e.mod) {
		return
	}
	var space [4]byteRange
	ranges, err := parseRange(req.Range, e.size, s.cfg.MaxRanges, space[:0])
	switch {
	case err != nil:
		resp.Status = 416
		resp.Body, resp.File, resp.Len = nil, nil, 0
		resp.Header = append(resp.Header, "Content-Range: bytes */"...)
		resp.Header = strconv.AppendInt(resp.Header, e.size, 10)
		resp.Header = append(resp.Header, "\r\n"...)
		return
	case len(ranges) == 0:
		return
	}
	resp.Status = 206
	if len(ranges) == 1 {
		r := ranges[0]
		e.setBody(resp, r.start, r.length)
		resp.Header = appendContentRange(append(resp.Header, "Content-Range: "...), r, e.size)
		resp.Header = append(resp.Header, "\r\n"...)
		return
	}
	planMultipart(resp, e, ranges)
}

// setBody makes [off, off+n) of e the response body.
func (e *entry) setBody(resp *http1.Response, off, n int64) {
	if e.body != nil {
		resp.Body = e.body[off : off+n]
		resp.File = nil
		return
	}
	resp.File, resp.Off, resp.Len = e.file, off, n
}
