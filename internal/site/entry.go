package site

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// entry is one file's representation: its validators, its pre-rendered
// header lines, and its content, held in memory (small files) or as an
// open descriptor (large ones, for sendfile). Entries in the cache are
// shared by every connection and never modified after creation, except
// for their atomic counters.
type entry struct {
	name  string // beneath the root
	fi    fs.FileInfo
	size  int64
	mod   time.Time
	etag  []byte
	ctype string
	head  []byte // header lines of a 200: Content-Type, ETag, Last-Modified, Accept-Ranges
	h304  []byte // header lines of a 304: ETag, Last-Modified

	body []byte   // whole content, or nil
	file *os.File // open file when body is nil

	refs     atomic.Int32 // the cache's reference plus one per response in flight
	checked  atomic.Int64 // when the file was last confirmed unchanged (UnixNano)
	lastUsed atomic.Int64 // last hit, in Unix seconds, for eviction
	cached   bool
}

var _ io.Closer = (*entry)(nil)

// newEntry describes the open file f (of info fi). With load, it reads the
// whole content and closes f; otherwise the entry keeps f open. The entry
// starts with one reference.
func newEntry(name string, f *os.File, fi fs.FileInfo, load bool, now time.Time) (*entry, error) {
	e := &entry{name: name, fi: fi, size: fi.Size(), mod: fi.ModTime(), ctype: contentType(name)}
	e.etag = appendETag(nil, e.size, e.mod)
	var h []byte
	h = append(h, "Content-Type: "...)
	h = append(h, e.ctype...)
	h = append(h, "\r\nETag: "...)
	start := len(h)
	h = append(h, e.etag...)
	h = append(h, "\r\nLast-Modified: "...)
	h = http1.AppendDate(h, e.mod)
	h = append(h, "\r\n"...)
	e.h304 = h[start-len("ETag: "):]
	e.head = append(h[:len(h):len(h)], "Accept-Ranges: bytes\r\n"...)
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
	}
	e.refs.Store(1)
	e.checked.Store(now.UnixNano())
	e.lastUsed.Store(now.Unix())
	return e, nil
}

// Close releases one reference; the last one closes the file.
func (e *entry) Close() error {
	if e.refs.Add(-1) == 0 && e.file != nil {
		return e.file.Close()
	}
	return nil
}

// cost is what the entry counts against the cache's memory budget.
func (e *entry) cost() int64 { return int64(len(e.body)) + int64(len(e.head)) + 256 }

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
