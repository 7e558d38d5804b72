package site

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
)

// Listings (Config.Listing). A directory without an index is listed as an
// HTML page (see listing_html.go), a JSON array or plain text, by the
// request's Accept (see negotiateListing). Every format lists the same
// entries: hidden names only with Config.Dotfiles (".well-known" always),
// never a name no request can reach (see fetchable), a precompressed
// sidecar only without the file it stands for, a symbolic link as its
// target (type, size, time) when the symlink policy lets a request follow
// it and not at all otherwise, and neither FIFOs, sockets nor devices, which
// are never served. Folders come first; the order is chosen by the query
// (see parseListQuery) and pages hold listPageRows entries each.
//
// The directory is read in batches (see scanDir) and each entry kept as a
// listRow (32 bytes) with its name in one shared buffer: a folder of
// 100,000 entries holds about 9 MiB while it is sorted (see
// BenchmarkListing100k), and the page sent holds at most listPageRows of
// them (1.7 MiB of HTML). Where the directory tells each entry's type
// (Linux's getdents), only the entries a page shows are stat'ed when the
// order is by name; sizes and times are read for all only to sort by them.

// listPageRows is the number of entries on one page of a listing.
const listPageRows = 5000

// entryKind is what a listed entry is, or leads to for a symbolic link.
type entryKind uint8

const (
	kindDir entryKind = iota // sorts first
	kindFile
)

// listRow is one entry of a listing: its name is dirList.names[off:off+n].
type listRow struct {
	off, n uint32
	kind   entryKind
	link   bool  // a symbolic link, described by its target
	known  bool  // size and mod are read (see dirList.stat)
	size   int64 // bytes; 0 for a directory
	mod    int64 // modification time, Unix nanoseconds
}

// dirList is a directory's listed entries, and the directory, open, to
// read what rows lack (see stat); Close releases it.
type dirList struct {
	names []byte
	rows  []listRow
	dir   io.Closer
	lstat func(string) (fileStat, error) // of a name in dir
}

// Close closes the directory.
func (l *dirList) Close() error { return l.dir.Close() }

// name is r's name: a view of l.names, valid while l is.
func (l *dirList) name(r *listRow) string { return b2s(l.names[r.off : r.off+r.n]) }

// fileStat is what a listing needs of an entry's lstat.
type fileStat struct {
	mode      fs.FileMode // the type bits only
	size, mod int64
}

// listDir reads the directory name, as a request reaches it, into a
// dirList, unsorted; with all, every row's size and time are read too.
// The caller closes the list.
func (s *Site) listDir(name string, all bool) (*dirList, error) {
	return s.readDir(name, all, false)
}

// readDir is listDir; with sidecars, it keeps the precompressed sidecars
// that stand for a listed file too.
func (s *Site) readDir(name string, all, sidecars bool) (*dirList, error) {
	f, fi, err := s.open(name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	if s.store != nil {
		l := &dirList{dir: f}
		named, err := s.readStoreDir(l, f, name, sidecars)
		if err != nil {
			f.Close()
			return nil, err
		}
		return l.finish(named, all), nil
	}
	d := f.(*os.File)
	lstat, err := s.statter(d, name)
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &dirList{dir: f, lstat: lstat}
	var named []int // rows named like a precompressed variant
	err = scanDir(d, func(n string, mode fs.FileMode, typed bool) {
		if s.addEntry(l, name, n, mode, typed) && !sidecars {
			named = append(named, len(l.rows)-1)
		}
	})
	if errors.Is(err, syscall.EBADF) {
		err = fs.ErrPermission // opened for search only: not readable
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return l.finish(named, all), nil
}

// finish drops the sidecars among the rows named (see readDir) and, with
// all, reads every row's size and time.
func (l *dirList) finish(named []int, all bool) *dirList {
	if len(named) > 0 {
		l.dropSidecars(named)
	}
	if all {
		l.rows = l.stat(l.rows)
	}
	return l
}

// addEntry appends the entry n of the directory dirName to l, unless the
// listing leaves it out, and reports whether it was named like a
// precompressed sidecar. typed: the directory told its type, mode (the
// type bits); otherwise it is read here, with its size and time. n may be
// a view of scanDir's buffer: it is copied to be kept.
func (s *Site) addEntry(l *dirList, dirName, n string, mode fs.FileMode, typed bool) (sidecar bool) {
	if strings.HasPrefix(n, ".") && (!s.cfg.Dotfiles || strings.HasPrefix(n, uploadTempPrefix)) && n != ".well-known" || !fetchable(n) {
		return false
	}
	var r listRow
	if !typed {
		st, err := l.lstat(n)
		if err != nil {
			return false // gone since it was read, or unreadable: not servable
		}
		mode, r.size, r.mod, r.known = st.mode, st.size, st.mod, true
	}
	switch mode {
	case fs.ModeDir:
		r.kind, r.size = kindDir, 0
	case 0:
		r.kind = kindFile
	case fs.ModeSymlink:
		if s.cfg.Symlinks == SymlinksDeny {
			return false
		}
		// Opened as a request opens it: a link out of the root under
		// SymlinksConfine, or to nothing, answers 404 and is left out.
		t, tfi, err := s.open(joinName(dirName, strings.Clone(n))) // n may be a view of a buffer
		if err != nil {
			return false
		}
		t.Close()
		switch {
		case tfi.IsDir():
			r.kind, r.size = kindDir, 0
		case tfi.Mode().IsRegular():
			r.kind, r.size = kindFile, tfi.Size()
		default:
			return false
		}
		r.link, r.known, r.mod = true, true, tfi.ModTime().UnixNano()
	default:
		return false // FIFOs, sockets, devices: never served
	}
	r.off, r.n = uint32(len(l.names)), uint32(len(n))
	if len(l.rows) == cap(l.rows) { // double: append grows large slices by a quarter
		l.rows = slices.Grow(l.rows, max(64, len(l.rows)))
	}
	if len(l.names)+len(n) > cap(l.names) {
		l.names = slices.Grow(l.names, max(1024, len(l.names), len(n)))
	}
	l.names = append(l.names, n...)
	l.rows = append(l.rows, r)
	_, sidecar = codec.ByExt(n)
	return sidecar && !s.cfg.Compress.NoPrecompressed
}

// stat reads the size and time of the rows that lack them and returns
// rows without those gone meanwhile or changed from file to folder or
// back (in place: rows is reused).
func (l *dirList) stat(rows []listRow) []listRow {
	out := rows[:0]
	for _, r := range rows {
		if !r.known {
			st, err := l.lstat(l.name(&r))
			if err != nil || st.mode != fs.ModeDir && st.mode != 0 || (st.mode == fs.ModeDir) != (r.kind == kindDir) {
				continue
			}
			r.mod, r.known = st.mod, true
			if r.kind == kindFile {
				r.size = st.size
			}
		}
		out = append(out, r)
	}
	return out
}

// dropSidecars removes the rows at idx (named like precompressed
// variants) whose file, the name without the coding's extension, is
// listed too: they are other representations of it.
func (l *dirList) dropSidecars(idx []int) {
	bases := make(map[string]bool, len(idx))
	for _, i := range idx {
		n := l.name(&l.rows[i])
		c, _ := codec.ByExt(n)
		bases[strings.TrimSuffix(n, c.Ext())] = false
	}
	for i := range l.rows {
		if n := l.name(&l.rows[i]); l.rows[i].kind == kindFile {
			if _, ok := bases[n]; ok {
				bases[n] = true
			}
		}
	}
	drop := make(map[int]bool)
	for _, i := range idx {
		n := l.name(&l.rows[i])
		c, _ := codec.ByExt(n)
		if bases[strings.TrimSuffix(n, c.Ext())] {
			drop[i] = true
		}
	}
	out := l.rows[:0]
	for i, r := range l.rows {
		if !drop[i] {
			out = append(out, r)
		}
	}
	l.rows = out
}

func joinName(dir, n string) string {
	if dir == "." {
		return n
	}
	return dir + "/" + n
}

// Sort keys of a listing.
const (
	sortName = "name"
	sortSize = "size"
	sortMod  = "modified"
)

// listQuery is what a listing's query asks for.
type listQuery struct {
	sort string // sortName, sortSize or sortMod
	desc bool
	page int // from 1
}

// parseListQuery reads sort=name|size|modified, order=asc|desc and page=N
// from the raw query q; anything else, or a malformed value, leaves the
// default: by name, ascending, the first page.
func parseListQuery(q []byte) listQuery {
	lq := listQuery{sort: sortName, page: 1}
	for len(q) > 0 {
		var pair []byte
		if i := strings.IndexByte(b2s(q), '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		k, v, _ := strings.Cut(b2s(pair), "=")
		switch k {
		case "sort":
			for _, key := range [...]string{sortName, sortSize, sortMod} {
				if v == key {
					lq.sort = key // not v: a view of the request
				}
			}
		case "order":
			lq.desc = v == "desc"
		case "page":
			if n, err := strconv.Atoi(v); err == nil && n >= 1 {
				lq.page = n
			}
		}
	}
	return lq
}

// query renders lq for a link, with the page p; the defaults are left out.
func (lq listQuery) query(p int) string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + v)
	}
	if lq.sort != sortName || lq.desc {
		add("sort", lq.sort)
		if lq.desc {
			add("order", "desc")
		} else {
			add("order", "asc")
		}
	}
	if p > 1 {
		add("page", strconv.Itoa(p))
	}
	if b.Len() == 0 {
		return "./"
	}
	return b.String()
}

// sort orders l's rows by lq: folders first, then by the key (the
// natural order of names breaking ties), reversed for desc.
func (l *dirList) sort(lq listQuery) {
	slices.SortFunc(l.rows, func(a, b listRow) int {
		if a.kind != b.kind {
			return cmp.Compare(a.kind, b.kind)
		}
		c := 0
		switch lq.sort {
		case sortSize:
			c = cmp.Compare(a.size, b.size)
		case sortMod:
			c = cmp.Compare(a.mod, b.mod)
		}
		if c == 0 {
			c = naturalCompare(l.name(&a), l.name(&b))
		}
		if lq.desc {
			c = -c
		}
		return c
	})
}

// page returns the rows of page p (from 1) of pages of per rows, the page
// actually shown (the last when p is past it) and the number of pages.
func (l *dirList) page(p, per int) (rows []listRow, shown, pages int) {
	pages = max(1, (len(l.rows)+per-1)/per)
	shown = min(p, pages)
	start := (shown - 1) * per
	return l.rows[start:min(start+per, len(l.rows))], shown, pages
}

// Listing formats.
type listFormat uint8

const (
	formatHTML listFormat = iota
	formatJSON
	formatText
)

// negotiateListing picks the listing's format from the request's Accept
// fields (RFC 9110 §12.5.1): of text/html, application/json and
// text/plain, the one with the highest weight by its most specific
// matching media range, HTML first, then JSON, on a tie. HTML is the
// answer without Accept and when none of the three is acceptable: a
// listing is never refused for its format.
func negotiateListing(req *http1.Request) listFormat {
	types := [...]struct{ typ, sub string }{{"text", "html"}, {"application", "json"}, {"text", "plain"}}
	var q, spec [len(types)]int
	for i := range spec {
		spec[i] = -1
	}
	seen := false
	for _, h := range req.Headers {
		if !http1.EqualFold(h.Name, "accept") {
			continue
		}
		seen = true
		for _, item := range strings.Split(b2s(h.Value), ",") {
			rng, params, _ := strings.Cut(item, ";")
			typ, sub, ok := strings.Cut(strings.TrimSpace(rng), "/")
			if !ok {
				continue
			}
			w := weightOf(params)
			for i, t := range types {
				sp := -1
				switch {
				case typ == "*" && sub == "*":
					sp = 0
				case strings.EqualFold(typ, t.typ) && sub == "*":
					sp = 1
				case strings.EqualFold(typ, t.typ) && strings.EqualFold(sub, t.sub):
					sp = 2
				}
				if sp > spec[i] {
					spec[i], q[i] = sp, w
				}
			}
		}
	}
	if !seen {
		return formatHTML
	}
	best, bestQ := formatHTML, 0
	for i := range types {
		if spec[i] >= 0 && q[i] > bestQ {
			best, bestQ = listFormat(i), q[i]
		}
	}
	return best
}

// weightOf returns the weight (0 to 1000) in a media range's parameters
// (";q=0.5"): 1000 without one, 0 when it is malformed.
func weightOf(params string) int {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" || len(v) > 5 || v[0] != '0' && v[0] != '1' {
			return 0
		}
		n := int(v[0]-'0') * 1000
		if len(v) > 1 {
			if v[1] != '.' {
				return 0
			}
			scale := 100
			for i := 2; i < len(v); i++ {
				if !isDigit(v[i]) {
					return 0
				}
				n += int(v[i]-'0') * scale
				scale /= 10
			}
		}
		if n > 1000 {
			return 0 // "1.5": not a qvalue
		}
		return n
	}
	return 1000
}

// serveListing plans a listing of the directory name in the format the
// request accepts. It is generated per request and sent with no
// validators, like nginx's autoindex, and with Vary: Accept. It returns the
// error status to answer with instead, if any.
func (s *Site) serveListing(req *http1.Request, resp *http1.Response, name string) int {
	lq := parseListQuery(req.Query)
	l, err := s.listDir(name, lq.sort != sortName)
	if err != nil {
		return statusForError(err)
	}
	defer l.Close()
	l.sort(lq)
	rows, shown, pages := l.page(lq.page, listPageRows)
	rows = l.stat(rows)
	now := time.Now()
	var body []byte
	switch f := negotiateListing(req); f {
	case formatJSON:
		body = l.appendJSON(make([]byte, 0, 64+len(rows)*128), rows, dirURL(name))
		resp.AddHeader("Content-Type", "application/json")
	case formatText:
		base := dirURL(name)
		body = l.appendText(make([]byte, 0, len(rows)*(len(base)+32)), rows, base)
		resp.AddHeader("Content-Type", "text/plain; charset=utf-8")
	default:
		dirs, _ := slices.BinarySearchFunc(l.rows, kindFile, func(r listRow, k entryKind) int { return cmp.Compare(r.kind, k) })
		body = l.appendHTML(make([]byte, 0, 8192+len(rows)*384), htmlPage{name: name, host: hostLabel(req.Host), rows: rows, q: lq, page: shown, pages: pages, total: len(l.rows), dirs: dirs, now: now, upload: s.uploadsInto(name), downloads: s.downloads()})
		resp.AddHeader("Content-Type", "text/html; charset=utf-8")
	}
	resp.Status = 200
	resp.AddHeader("Vary", "Accept")
	resp.AddHeader("Cache-Control", "no-cache")
	if shown > 1 {
		resp.AddHeader("Link", "<"+lq.query(shown-1)+">; rel=\"prev\"")
	}
	if shown < pages {
		resp.AddHeader("Link", "<"+lq.query(shown+1)+">; rel=\"next\"")
	}
	resp.Body = body
	return 0
}

// hostLabel is the request's host for the listing's root crumb, or "" if
// it holds anything but what a host and port are made of.
func hostLabel(h []byte) string {
	if len(h) == 0 || len(h) > 255 {
		return ""
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return ""
		}
	}
	return string(h)
}

// dirURL is the absolute path of the directory name, percent-encoded,
// with its trailing slash.
func dirURL(name string) string {
	if name == "." {
		return "/"
	}
	var b strings.Builder
	for seg := range strings.SplitSeq(name, "/") {
		b.WriteString("/" + escapeName(seg))
	}
	b.WriteByte('/')
	return b.String()
}

// appendJSON appends rows as a JSON array of {name, type ("file" or
// "dir"), size, mtime (RFC 3339, or null: not known), url (absolute
// path)}, with "symlink":
// true for a link, described by its target.
func (l *dirList) appendJSON(b []byte, rows []listRow, base string) []byte {
	b = append(b, '[')
	for i := range rows {
		r := &rows[i]
		if i > 0 {
			b = append(b, ',')
		}
		n := l.name(r)
		b = append(b, "\n{\"name\":"...)
		q, _ := json.Marshal(n) // invalid UTF-8 becomes U+FFFD; the url stays exact
		b = append(b, q...)
		typ, href := "file", base+escapeName(n)
		if r.kind == kindDir {
			typ, href = "dir", href+"/"
		}
		b = append(b, ",\"type\":\""+typ+"\",\"size\":"...)
		b = strconv.AppendInt(b, r.size, 10)
		if r.mod == modUnknown {
			b = append(b, ",\"mtime\":null"...)
		} else {
			b = append(b, ",\"mtime\":\""...)
			b = time.Unix(0, r.mod).UTC().AppendFormat(b, time.RFC3339)
			b = append(b, '"')
		}
		b = append(b, ",\"url\":\""+href+"\""...) // percent-encoded: nothing to escape
		if r.link {
			b = append(b, ",\"symlink\":true"...)
		}
		b = append(b, '}')
	}
	return append(b, "\n]\n"...)
}

// appendText appends the absolute path of each row, percent-encoded, one
// a line (a folder's with its trailing slash).
func (l *dirList) appendText(b []byte, rows []listRow, base string) []byte {
	for i := range rows {
		r := &rows[i]
		b = append(b, base...)
		b = append(b, escapeName(l.name(r))...)
		if r.kind == kindDir {
			b = append(b, '/')
		}
		b = append(b, '\n')
	}
	return b
}

// fetchable reports whether a request for the name n (one segment) can
// reach it: resolve refuses control bytes and backslashes (a backslash is
// a separator on Windows and in some proxies, so weft never takes it for
// part of a name), so a link to such a name would only answer 400.
func fetchable(n string) bool {
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// escapeName percent-encodes every byte of the name n but the unreserved
// ones (RFC 3986 §2.3), so that a link to it, relative to its directory,
// resolves back to exactly n: no byte can end the path ('?', '#'), read as
// a scheme (':'), start an escape ('%') or a new segment ('/'), or need
// quoting in HTML.
func escapeName(n string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(n)*3)
	for i := 0; i < len(n); i++ {
		c := n[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}
