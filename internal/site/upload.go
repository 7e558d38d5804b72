package site

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/netip"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/weft-server/weft/internal/http1"
)

// UploadConfig lets clients write files beneath the root: a PUT of a file's
// URL writes the request body there, and a multipart/form-data POST to a
// folder's URL (the listing page's form) writes each file part into that
// folder. A body goes to a hidden temporary file (uploadTempPrefix) in the
// target folder and is renamed into place only once complete, so a cut,
// refused or failed upload leaves nothing behind. Names are checked as
// strictly as request paths (see resolve), and the target is opened
// through an os.Root of Dir, so nothing is written outside it.
//
//	PUT, new file                      201 Created, Location
//	PUT, existing file, Overwrite      204 No Content
//	PUT, existing file or folder       409 Conflict
//	PUT, parent folder missing         409 Conflict (as nginx's WebDAV)
//	POST, several files                303 to the folder, or 200 with JSON when Accept asks
//	POST, existing name                409, none of the POST's files written
//	POST, folder missing               404
//	body over MaxBytes                 413
//	malformed or hidden name           400
//	path outside Dir                   403
//	disk full                          507
type UploadConfig struct {
	On             bool
	Dir            string // folder beneath the root where uploads are allowed ("" or "." for the whole root)
	Overwrite      bool   // replace existing files
	MaxBytes       int64  // largest body, DefaultUploadMaxBytes when zero
	AllowAnonymous bool   // let CheckListen accept uploads without authentication beyond loopback
}

// DefaultUploadMaxBytes is UploadConfig.MaxBytes when zero: 1 GiB.
const DefaultUploadMaxBytes = 1 << 30

// uploadTempPrefix begins the name of an upload's temporary file. Such
// names are never served or listed, whatever Config.Dotfiles says.
const uploadTempPrefix = ".weft-upload-"

// isUploadTemp reports whether some segment of name is an upload's
// temporary file.
func isUploadTemp(name string) bool {
	return strings.HasPrefix(name, uploadTempPrefix) || strings.Contains(name, "/"+uploadTempPrefix)
}

// ErrUploadAnonymous is the error of CheckListen for uploads that anyone on
// the network could make.
var ErrUploadAnonymous = errors.New("weft: uploads without authentication")

var _ http1.BodyHandler = (*Site)(nil)

// BodyLimit implements http1.BodyHandler: with uploads on, a PUT or POST
// body is the site's to read, up to UploadConfig.MaxBytes.
func (s *Site) BodyLimit(req *http1.Request) int64 {
	if s.up == nil || (req.Method != http1.MethodPut && req.Method != http1.MethodPost) {
		return 0
	}
	return s.cfg.Upload.MaxBytes
}

// openUploads opens the upload folder beneath root.
func openUploads(cfg *Config, root *os.Root) (*os.Root, string, error) {
	u := &cfg.Upload
	if u.MaxBytes == 0 {
		u.MaxBytes = DefaultUploadMaxBytes
	}
	if u.MaxBytes < 0 {
		return nil, "", fmt.Errorf("weft: upload_max_bytes %d: want at least 1", u.MaxBytes)
	}
	dir := "."
	if d := strings.Trim(u.Dir, "/"); d != "" && d != "." {
		name, _, err := resolve([]byte("/"+d), true)
		if err != nil {
			return nil, "", fmt.Errorf("weft: upload_dir %q: want a folder beneath the root, without . or .. segments", u.Dir)
		}
		dir = name
	}
	r, err := root.OpenRoot(dir)
	if err != nil {
		return nil, "", fmt.Errorf("weft: upload_dir: %w", err)
	}
	return r, dir, nil
}

// uploadName is name (beneath the root) relative to the upload folder, or
// false when it lies outside it.
func (s *Site) uploadName(name string) (string, bool) {
	switch {
	case s.upDir == ".":
		return name, true
	case name == s.upDir:
		return ".", true
	case strings.HasPrefix(name, s.upDir+"/"):
		return name[len(s.upDir)+1:], true
	}
	return "", false
}

// uploadsInto reports whether the folder name (beneath the root) takes
// uploads: its listing then shows the upload form.
func (s *Site) uploadsInto(name string) bool {
	if s.up == nil {
		return false
	}
	_, ok := s.uploadName(name)
	return ok
}

// serveUpload answers a PUT or a POST (uploads on) and returns the path
// the rules matched.
func (s *Site) serveUpload(req *http1.Request, resp *http1.Response) string {
	name, trailing, err := resolve(req.Path, s.cfg.Dotfiles)
	if err != nil || isUploadTemp(name) {
		s.errorPage(req, resp, 400)
		return ""
	}
	p := pathOf(name, trailing)
	if !s.authorize(req, resp, p) {
		return p
	}
	rel, ok := s.uploadName(name)
	var st int
	switch {
	case !ok:
		st = 403
	case req.ContentLength > s.cfg.Upload.MaxBytes:
		st = 413
	case req.Body == nil && req.HasBody():
		st = 501 // a connection that did not hand the body over (see BodyLimit)
	case req.Method == http1.MethodPut && (trailing || rel == "."):
		st = 405 // a folder: POST a form to it instead
	case req.Method == http1.MethodPut:
		st = s.put(req, resp, name, rel)
	case !trailing && rel != ".":
		st = 405 // POST a form to a folder's URL
	default:
		st = s.post(req, resp, name, rel)
	}
	if st == 405 {
		s.errorPage(req, resp, 405)
		resp.AddHeader("Allow", allowFor(trailing || rel == "."))
	} else if st != 0 {
		s.errorPage(req, resp, st)
	}
	return p
}

// allowAt is the Allow value for name (beneath the root; trailing: its
// URL ends in a slash): with uploads on, a folder's URL in the upload
// folder also takes POST (the listing's form), a file's URL there PUT;
// elsewhere only the reading methods.
func (s *Site) allowAt(name string, trailing bool) string {
	if s.up == nil || isUploadTemp(name) {
		return allow
	}
	rel, ok := s.uploadName(name)
	if !ok {
		return allow
	}
	return allowFor(trailing || rel == ".")
}

// allowFor is the Allow value for a folder's URL or a file's, uploads on.
func allowFor(dir bool) string {
	if dir {
		return allow + ", POST"
	}
	return allow + ", PUT"
}

// put writes the body to rel (relative to the upload folder; name beneath
// the root) and returns the status to answer with, 0 when planned.
func (s *Site) put(req *http1.Request, resp *http1.Response, name, rel string) int {
	dir := path.Dir(rel)
	fi, err := s.up.Lstat(rel)
	exists := err == nil
	switch {
	case exists && (!fi.Mode().IsRegular() || !s.cfg.Upload.Overwrite):
		return 409
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return uploadStatus(err)
	}
	t, err := s.receive(dir, req.Body)
	if err != nil {
		return uploadStatus(err)
	}
	if err := s.commit(t, rel); err != nil {
		return uploadStatus(err)
	}
	s.cache.invalidate(name)
	if exists {
		resp.Status = 204
		return 0
	}
	http1.ErrorPage(resp, 201)
	resp.AddHeader("Location", escapePath("/"+name))
	return 0
}

// post writes each file part of a multipart/form-data body into the
// folder rel (relative to the upload folder; name beneath the root): all
// of them, or, when one fails, none.
func (s *Site) post(req *http1.Request, resp *http1.Response, name, rel string) int {
	if fi, err := s.up.Stat(rel); err != nil || !fi.IsDir() {
		return 404
	}
	mt, params, err := mime.ParseMediaType(string(lookupHeader(req, "content-type")))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return 400
	}
	type done struct {
		temp, rel, base string
		size            int64
	}
	var files []done
	defer func() {
		for _, f := range files {
			if f.temp != "" {
				s.up.Remove(f.temp)
			}
		}
	}()
	mr := multipart.NewReader(req.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart() // no decoding of quoted-printable parts
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return uploadStatus(err)
		}
		base, ok := partName(part)
		if !ok {
			continue // a form field, or a file input left empty
		}
		if !s.validName(base) || len(files) == maxFormFiles {
			return 400
		}
		target := path.Join(rel, base)
		if fi, err := s.up.Lstat(target); err == nil && (!fi.Mode().IsRegular() || !s.cfg.Upload.Overwrite) {
			return 409
		}
		for _, f := range files {
			if f.rel == target {
				return 409 // twice in one form
			}
		}
		t, err := s.receive(rel, part)
		if err != nil {
			return uploadStatus(err)
		}
		files = append(files, done{temp: t.name, rel: target, base: base, size: t.size})
	}
	if len(files) == 0 {
		return 400
	}
	for i := range files {
		f := &files[i]
		if err := s.commit(received{name: f.temp}, f.rel); err != nil {
			return uploadStatus(err) // those committed stay: each is whole
		}
		f.temp = ""
		s.cache.invalidate(path.Join(name, f.base))
	}
	folder := escapePath(pathOf(name, true))
	if wantsJSON(req) {
		type entry struct {
			Name string `json:"name"`
			URL  string `json:"url"`
			Size int64  `json:"size"`
		}
		list := make([]entry, len(files))
		for i, f := range files {
			list[i] = entry{f.base, folder + escapeName(f.base), f.size}
		}
		b, _ := json.Marshal(list)
		resp.Status = 200
		resp.AddHeader("Content-Type", "application/json")
		resp.Body = append(b, '\n')
		return 0
	}
	http1.ErrorPage(resp, 303)
	resp.AddHeader("Location", folder)
	return 0
}

// maxFormFiles bounds the files of one form POST (a temporary file each
// until the last has arrived).
const maxFormFiles = 1000

// partName is the file name a form part carries, taken as sent (not
// reduced to its last element, as multipart.Part.FileName does, so that a
// hostile name is refused rather than rewritten); false for a part that
// is not a file or carries no name.
func partName(p *multipart.Part) (string, bool) {
	d, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil || d != "form-data" {
		return "", false
	}
	name, ok := params["filename"]
	return name, ok && name != ""
}

// validName reports whether base may name an uploaded file in a folder:
// one path segment (no "/") that resolve accepts as a request path would
// be, in UTF-8, not an upload's temporary name.
func (s *Site) validName(base string) bool {
	if base == "" || !utf8.ValidString(base) || len(base) > 255 || strings.HasPrefix(base, uploadTempPrefix) || strings.IndexByte(base, '/') >= 0 {
		return false
	}
	name, dir, err := resolve([]byte("/"+escapeName(base)), s.cfg.Dotfiles)
	return err == nil && !dir && name == base
}

// wantsJSON reports whether the request's Accept prefers JSON to HTML.
func wantsJSON(req *http1.Request) bool {
	return strings.Contains(string(lookupHeader(req, "accept")), "application/json")
}

// received is a body written whole to its temporary file.
type received struct {
	name string // the temporary file, relative to the upload folder
	size int64
}

// receive copies body, up to the upload limit, into a new temporary file
// in dir (relative to the upload folder), flushed to disk. On any failure
// the temporary file is removed.
func (s *Site) receive(dir string, body io.Reader) (received, error) {
	if body == nil {
		body = eof{} // an empty body (Content-Length: 0)
	}
	f, name, err := s.createTemp(dir)
	if err != nil {
		return received{}, err
	}
	bp := uploadBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(f, &limitReader{r: body, left: s.cfg.Upload.MaxBytes}, *bp)
	uploadBufs.Put(bp)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.up.Remove(name)
		return received{}, err
	}
	return received{name: name, size: n}, nil
}

// createTemp creates a new temporary file in dir (relative to the upload
// folder), readable by all less the umask, as any file weft serves.
func (s *Site) createTemp(dir string) (*os.File, string, error) {
	for range 8 {
		var b [12]byte
		rand.Read(b[:])
		name := path.Join(dir, uploadTempPrefix+hex.EncodeToString(b[:]))
		f, err := s.up.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fs.ErrExist
}

// commit moves a received file to rel. Without Overwrite it links the
// file there, which fails if rel exists (a name taken since it was
// checked), and removes the temporary name; where links are not supported
// it checks and renames. The temporary file is gone after commit.
func (s *Site) commit(t received, rel string) error {
	if s.cfg.Upload.Overwrite {
		err := s.up.Rename(t.name, rel)
		if err != nil {
			s.up.Remove(t.name)
		}
		return err
	}
	err := s.up.Link(t.name, rel)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		if _, serr := s.up.Lstat(rel); serr == nil {
			err = fs.ErrExist
		} else {
			err = s.up.Rename(t.name, rel)
		}
	}
	s.up.Remove(t.name)
	return err
}

// eof is an empty body.
type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }

// uploadStatus maps an upload's failure to its status; its text is never
// sent.
func uploadStatus(err error) int {
	var he *http1.Error
	switch {
	case errors.As(err, &he):
		return he.Status // ErrBodyTooLarge (413), malformed chunked framing (400)
	case errors.Is(err, fs.ErrExist), errors.Is(err, fs.ErrNotExist),
		errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return 409 // the name is taken, or its folder is missing or a file
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return 507
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return 403
	case errors.Is(err, syscall.ENAMETOOLONG):
		return 400
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return 400 // os.Root refused a symbolic link out of the upload folder
	}
	return 400 // a cut or malformed body
}

// limitReader fails with http1.ErrBodyTooLarge once more than left bytes
// are read. A connection bounds the body by the same limit (BodyLimit);
// this bounds it over every protocol.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, http1.ErrBodyTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if l.left -= int64(n); l.left < 0 {
		return 0, http1.ErrBodyTooLarge
	}
	return n, err
}

// checkUploadListen is CheckListen's rule for uploads: on an address
// other than loopback, the upload folder must ask for credentials, unless
// AllowAnonymous.
func (c *Config) checkUploadListen(addr string) error {
	u := &c.Upload
	if !u.On || u.AllowAnonymous || c.protectsPath(uploadPath(u.Dir)) {
		return nil
	}
	host, ok := listenHost(addr)
	if !ok {
		return fmt.Errorf("weft: listen address %q: want host:port", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s accepts uploads at %s from anyone who can reach %s; protect %s with basic authentication (--basic-auth or an auth rule), listen on loopback, or allow it explicitly (--upload-allow-anonymous)", ErrUploadAnonymous, c.Root, uploadPath(u.Dir), addr, uploadPath(u.Dir))
}

// uploadPath is the URL path of the upload folder dir.
func uploadPath(dir string) string {
	d := strings.Trim(dir, "/")
	if d == "" || d == "." {
		return "/"
	}
	return "/" + d + "/"
}

// protectsPath reports whether the auth rules ask for credentials for
// the folder p ("/dir/") and everything beneath it: the longest rule
// over it has a password file, and no rule beneath it exempts a part.
func (c *Config) protectsPath(p string) bool {
	p = strings.TrimSuffix(p, "/")
	best, protected := -1, false
	for _, r := range c.Auth {
		pre := strings.TrimSuffix(r.Prefix, "/")
		if r.Htpasswd == "" && beneath(pre, p) && pre != p {
			return false
		}
		if beneath(p, pre) && len(pre) > best {
			best, protected = len(pre), r.Htpasswd != ""
		}
	}
	return protected
}

// beneath reports whether the path p is dir or lies beneath it (paths
// without a trailing slash; "" is the root).
func beneath(p, dir string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
}

var uploadBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
