package site

import (
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
)

// Error pages (Config.ErrorPages): a status from 400 to 599 answered with
// a file of the site instead of weft's small built-in page, with that
// status, the file's Content-Type and its bytes, but none of its
// validators (a 404's body is not a representation of the missing
// resource: a conditional request must not turn it into a 304). The file
// comes through the cache like any other; when it cannot be read (gone
// since Open checked it), the built-in page is sent. It is sent to any
// client, so Open refuses one that an auth rule protects.

// compileErrorPages checks every status and resolves every file name.
func compileErrorPages(m map[int]string, dotfiles bool) (map[int]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[int]string, len(m))
	for status, file := range m {
		if status < 400 || status > 599 {
			return nil, fmt.Errorf("weft: error page for status %d: want 400 to 599", status)
		}
		name, err := resolveFile(file, dotfiles)
		if err != nil {
			return nil, fmt.Errorf("weft: error page for status %d: %w", status, err)
		}
		out[status] = name
	}
	return out, nil
}

// checkErrorPagesOpen refuses an error page an auth rule covers: it is
// sent to any client (with a 401 and a 400 too), so it would hand out a
// protected file without credentials. (The SPA file needs no such check:
// the fallback authorizes it per request.)
func (s *Site) checkErrorPagesOpen() error {
	if s.auth == nil {
		return nil
	}
	for status, name := range s.errorPages {
		if z := s.auth.zone("/" + name); z != nil && z.users != nil {
			return fmt.Errorf("weft: error page for status %d: %s is protected by the auth rule for %q and would be sent to any client: move it out, or exempt it with an auth rule without htpasswd", status, name, z.prefix+"/")
		}
	}
	return nil
}

// resolveFile resolves a file named in the configuration ("404.html",
// "/errors/404.html") beneath the root, as a request for it would be.
func resolveFile(file string, dotfiles bool) (string, error) {
	name, dir, err := resolve([]byte(escapePath("/"+strings.TrimPrefix(file, "/"))), dotfiles)
	if err != nil || dir || name == "." {
		return "", fmt.Errorf("file %q: want a file's path beneath the root (no \"..\", no dotfile)", file)
	}
	return name, nil
}

// checkFiles reports a configured file that is not a regular file
// beneath the root (for Open: a typo is caught at start, not at the
// first 404).
func (s *Site) checkFiles() error {
	check := func(what, name string) error {
		fi, err := s.stat(name)
		if err != nil {
			return fmt.Errorf("weft: %s: %w", what, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("weft: %s: %s is not a regular file", what, name)
		}
		return nil
	}
	for status, name := range s.errorPages {
		if err := check(fmt.Sprintf("error page for status %d", status), name); err != nil {
			return err
		}
	}
	if s.spa != "" {
		return check("spa fallback", s.spa)
	}
	return nil
}

// identity is the Accept of a client that takes only identity.
var identity = codec.ParseAccept(nil, false)

// errorPage answers with status: the site's page for it, or the
// built-in one.
func (s *Site) errorPage(req *http1.Request, resp *http1.Response, status int) {
	if name, ok := s.errorPages[status]; ok {
		if e := s.pageEntry(name); e != nil {
			resp.Status = status
			resp.AddHeader("Content-Type", e.ctype)
			e.setBody(resp, 0, e.size)
			resp.Closer = e
			return
		}
	}
	http1.ErrorPage(resp, status)
}

// pageEntry returns the identity entry of the file name, acquired, or nil.
func (s *Site) pageEntry(name string) *entry {
	if e := s.cache.lookup([]byte(name), time.Now(), true); e != nil {
		return e
	}
	f, fi, err := s.open(name)
	if err != nil {
		return nil
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil
	}
	a := identity
	e, _, _ := s.fileEntry(f, fi, name, name, &a)
	return e
}

// statusNoIndex is serveName's answer for a directory without an index
// when listings are off: 403, as nginx answers with autoindex off, with a
// page that says how to list it (see noIndex).
const statusNoIndex = -403

// noIndex plans the 403 for a directory without an index and without
// listings: the site's page for 403 when it has one (it returns 403 for
// errorPage to send), else a page that names the missing index and the
// --listing flag (it returns 0).
func (s *Site) noIndex(resp *http1.Response) int {
	if _, ok := s.errorPages[403]; ok {
		return 403
	}
	resp.Status = 403
	resp.AddHeader("Content-Type", "text/html; charset=utf-8")
	resp.Body = []byte("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
		"<title>403 Forbidden</title></head>\n<body><h1>403 Forbidden</h1>\n<p>This folder has no " + html.EscapeString(s.cfg.Index) +
		" and folder listings are off.</p>\n<p>To list folders, start weft with <code>--listing</code> (<code>listing = true</code> in a config file).</p><hr><p>weft</p></body></html>\n")
	return 0
}
