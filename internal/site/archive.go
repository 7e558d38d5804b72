package site

import (
	"archive/tar"
	"archive/zip"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"

	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"

	"github.com/weft-server/weft/internal/http1"
)

// Folder downloads (Config.Listing without Config.NoDownloads): a folder's
// URL with ?download=zip or ?download=tar.gz answers with an archive of
// the folder, recursively, streamed as it is made (http1.Response.Stream):
// memory stays constant whatever the size of the files (the engines hold a
// few 64 KiB buffers per download, see h1conn's pipe). The archive holds
// exactly what the folder's listings show, level by level (see listDir):
// hidden names only with Config.Dotfiles, links as the symlink policy lets
// a request follow them (a link out of the root under SymlinksConfine is
// left out, and so is a link to a folder above it, a loop),
// no sidecar standing for a listed file, no FIFO or device, and nothing an
// auth rule other than the folder's own protects; every file is opened as
// a request opens it (see Site.open), so nothing outside the root is read.
// Entries are under one top folder named like the archive. A zip stores
// already-compressed files (images, audio, video, archives, fonts; see
// storedType) and deflates the rest; it turns to zip64 past 4 GiB. Zip's
// central directory costs about 100 bytes per entry until the end, and a
// folder being walked costs its listing (about 90 bytes an entry).
//
// Config.DownloadMaxBytes caps the files' total size: the folder is walked
// once first to add up the sizes, and one over the cap answers 413; files
// that grow past it while they are sent cut the archive (the client sees
// it incomplete, never as whole).

// Archive formats, by the value of the download parameter.
const (
	downloadZip   = "zip"
	downloadTarGz = "tar.gz"
)

// maxArchiveDepth bounds how deep a download descends, in folders.
const maxArchiveDepth = 64

var (
	errOverCap   = errors.New("weft: archive over the download cap")
	errFileShort = errors.New("weft: file shrank while being archived")
)

// downloadFormat returns the archive format the raw query asks for, or "".
func downloadFormat(q []byte) string {
	for len(q) > 0 {
		var pair []byte
		if i := strings.IndexByte(b2s(q), '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		switch b2s(pair) {
		case "download=" + downloadZip:
			return downloadZip
		case "download=" + downloadTarGz:
			return downloadTarGz
		}
	}
	return ""
}

// downloads reports whether folder downloads are on.
func (s *Site) downloads() bool { return s.cfg.Listing && !s.cfg.NoDownloads }

// serveArchive plans the archive of the folder name in format, or returns
// the error status to answer with. authed is the path the request was
// authorized for.
func (s *Site) serveArchive(req *http1.Request, resp *http1.Response, name, format, authed string) int {
	fi, err := s.stat(name)
	if err != nil {
		return statusForError(err)
	}
	if !fi.IsDir() {
		return 404
	}
	a := &archive{s: s, dir: name, top: s.archiveName(name), authed: authed, tarGz: format == downloadTarGz, max: s.cfg.DownloadMaxBytes}
	if a.max > 0 {
		total, err := a.size()
		switch {
		case errors.Is(err, errOverCap):
			s.overCap(resp, total)
			return 0
		case err != nil:
			return statusForError(err)
		}
	}
	ext, ctype := ".zip", "application/zip"
	if a.tarGz {
		ext, ctype = ".tar.gz", "application/gzip"
	}
	resp.Status = 200
	resp.AddHeader("Content-Type", ctype)
	resp.AddHeader("Content-Disposition", contentDisposition(a.top+ext))
	resp.AddHeader("Cache-Control", "no-store")
	resp.Stream = a
	return 0
}

// overCap plans the 413 for a folder whose files add up to more than the
// cap (at least total bytes).
func (s *Site) overCap(resp *http1.Response, total int64) {
	resp.Status = 413
	resp.AddHeader("Content-Type", "text/html; charset=utf-8")
	resp.AddHeader("Cache-Control", "no-store")
	resp.Body = []byte("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
		"<title>413 Content Too Large</title></head>\n<body><h1>413 Content Too Large</h1>\n<p>This folder holds more than " +
		html.EscapeString(strconv.FormatInt(total, 10)) + " bytes of files, over the " + strconv.FormatInt(s.cfg.DownloadMaxBytes, 10) +
		" bytes this server lets a download hold (<code>--download-max-bytes</code>).</p>\n<p>Download its sub-folders or files one by one.</p><hr><p>weft</p></body></html>\n")
}

// archiveName is the archive's base name, and its top folder's: the
// folder's own name, or the root's.
func (s *Site) archiveName(name string) string {
	n := name
	if n == "." && s.store != nil {
		n = s.store.Base()
	} else if n == "." {
		n = filepath.Base(s.root.Name())
	} else if i := strings.LastIndexByte(n, '/'); i >= 0 {
		n = n[i+1:]
	}
	if n == "" || n == "." || n == ".." || n == string(filepath.Separator) {
		n = "files"
	}
	return n
}

// contentDisposition is an attachment's field value with filename
// (RFC 6266): an ASCII fallback in filename, and filename* in UTF-8
// (RFC 8187) when the name is anything else.
func contentDisposition(filename string) string {
	ascii := true
	fallback := make([]byte, 0, len(filename))
	for i := 0; i < len(filename); i++ {
		c := filename[i]
		switch {
		case c >= 0x80:
			ascii = false
			if !strings.HasSuffix(string(fallback), "_") {
				fallback = append(fallback, '_')
			}
		case c < ' ' || c == 0x7f || c == '"' || c == '\\' || c == '%':
			ascii = false
			fallback = append(fallback, '_')
		default:
			fallback = append(fallback, c)
		}
	}
	v := `attachment; filename="` + string(fallback) + `"`
	if !ascii {
		v += "; filename*=UTF-8''" + escapeName(filename)
	}
	return v
}

// archive is a folder download: an http1.Stream.
type archive struct {
	s      *Site
	dir    string // the folder, beneath the root
	top    string // the archive's top folder
	authed string // the path the request was authorized for
	tarGz  bool
	max    int64 // cap on the files' total size; 0 for none
	sent   int64 // file bytes written so far
	buf    []byte
}

var _ http1.Stream = (*archive)(nil)

// walk calls fn for every entry beneath the folder, depth-first, in
// natural name order, but those another auth rule than the folder's own
// protects.
func (a *archive) walk(fn visit) error {
	fi, err := a.s.stat(a.dir)
	if err != nil {
		return err
	}
	var other func(string) bool
	if a.s.auth != nil {
		zone := a.s.auth.zone(a.authed)
		other = func(name string) bool { return a.s.auth.zone("/"+name) != zone }
	}
	return a.s.walk(a.dir, "", []fs.FileInfo{fi}, walkOptions{leaveOut: other}, fn)
}

// size adds up the sizes of the folder's files, stopping with errOverCap
// once past the cap.
func (a *archive) size() (int64, error) {
	var total int64
	err := a.walk(func(_, _ string, r *listRow) error {
		if r.kind == kindFile {
			if total += r.size; total > a.max {
				return errOverCap
			}
		}
		return nil
	})
	return total, err
}

// WriteTo implements http1.Stream: it writes the archive to w.
func (a *archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	a.buf = make([]byte, 128<<10)
	var err error
	if a.tarGz {
		err = a.writeTarGz(cw)
	} else {
		err = a.writeZip(cw)
	}
	return cw.n, err
}

func (a *archive) writeZip(w io.Writer) error {
	zw := zip.NewWriter(w)
	var fw *flate.Writer
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		if fw == nil {
			var err error
			if fw, err = flate.NewWriter(out, 5); err != nil {
				return nil, err
			}
		} else {
			fw.Reset(out)
		}
		return fw, nil
	})
	err := a.walk(func(name, rel string, r *listRow) error {
		if r.kind == kindDir {
			h := &zip.FileHeader{Name: a.top + "/" + rel + "/", Modified: modTime(r.mod)}
			h.SetMode(fs.ModeDir | 0o755)
			_, err := zw.CreateHeader(h)
			return err
		}
		f, fi, ok, err := a.s.openListed(name)
		if !ok {
			return err
		}
		defer f.Close()
		h := &zip.FileHeader{Name: a.top + "/" + rel, Modified: fi.ModTime(), Method: zip.Deflate}
		if storedType(a.s.contentType(name)) {
			h.Method = zip.Store
		}
		h.SetMode(0o644)
		ew, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		return a.copyFile(ew, f, fi.Size())
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

func (a *archive) writeTarGz(w io.Writer) error {
	gw, err := gzip.NewWriterLevel(w, 5)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gw)
	err = a.walk(func(name, rel string, r *listRow) error {
		if r.kind == kindDir {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: a.top + "/" + rel + "/", Mode: 0o755, ModTime: modTime(r.mod)})
		}
		f, fi, ok, err := a.s.openListed(name)
		if !ok {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: a.top + "/" + rel, Mode: 0o644, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
		return a.copyFile(tw, f, fi.Size())
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gw.Close()
}

// skippable reports whether an entry listed a moment ago may be left out
// for err: it is gone, or a request for it would be refused too.
func skippable(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EXDEV) ||
		errors.Is(err, syscall.ENAMETOOLONG)
}

// copyFile copies exactly size bytes of f to w, within the cap.
func (a *archive) copyFile(w io.Writer, f File, size int64) error {
	if a.max > 0 && a.sent+size > a.max {
		return errOverCap
	}
	a.sent += size
	var off int64
	for off < size {
		n, err := f.ReadAt(a.buf[:min(int64(len(a.buf)), size-off)], off)
		if n > 0 {
			if _, werr := w.Write(a.buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err != nil && off < size {
			if err == io.EOF {
				return fmt.Errorf("%w: %s", errFileShort, fileName(f))
			}
			return err
		}
	}
	return nil
}

// storedType reports whether files of the content type ctype are already
// compressed, so that a zip stores them rather than deflating them again.
func storedType(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	switch {
	case strings.HasPrefix(mt, "video/"):
		return true
	case strings.HasPrefix(mt, "audio/"):
		return mt != "audio/wav" && mt != "audio/x-wav" && mt != "audio/aiff"
	case strings.HasPrefix(mt, "image/"):
		return mt != "image/svg+xml" && mt != "image/bmp" && mt != "image/x-icon" && mt != "image/vnd.microsoft.icon" && mt != "image/tiff"
	case strings.HasPrefix(mt, "font/"):
		return mt == "font/woff" || mt == "font/woff2"
	}
	switch mt {
	case "application/zip", "application/gzip", "application/x-gzip", "application/x-7z-compressed",
		"application/x-bzip2", "application/x-xz", "application/zstd", "application/x-lzip",
		"application/x-rar-compressed", "application/vnd.rar", "application/java-archive",
		"application/epub+zip", "application/pdf", "application/x-compress", "application/x-brotli",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.oasis.opendocument.text", "application/vnd.android.package-archive":
		return true
	}
	return false
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// fileName is f's name for a message.
func fileName(f File) string {
	if fi, err := f.Stat(); err == nil {
		return fi.Name()
	}
	return "a file"
}

// modTime is a row's time for an archive: the epoch when not known (a
// folder of an object store).
func modTime(mod int64) time.Time {
	if mod == modUnknown {
		return time.Unix(0, 0)
	}
	return time.Unix(0, mod)
}
