package site

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/weft-server/weft/internal/http1"
)

// Redirect sends the requests whose path From matches elsewhere. With a
// redirect status the client is told the new location; with 200 the site
// serves To in place, a rewrite the client never sees. The first rule that
// matches wins, and rules apply whether or not a file exists at the path
// (no shadowing), before clean URLs and the trailing-slash policy. Paths
// are matched decoded and cleaned ("/a//b/%63" is "/a/b/c"), with a
// trailing slash for a request that ends in one.
type Redirect struct {
	// From is an exact path ("/old") or a pattern (see pathGlob:
	// "/blog/*", "/docs/**", "*.php"). When its only wildcard is a final
	// "*" or "**", what that wildcard matched is the splat.
	From string `toml:"from"`
	// To is a path ("/new", "/posts/:splat") or, for a redirect, an
	// absolute http(s) URL ("https://example.com/:splat"); ":splat" is
	// replaced by the splat, percent-encoded for where it stands: as a
	// path ("/" kept) before a "?", as a query component ("&", "=", "+",
	// ";" and "/" encoded too) after it. A redirect keeps the request's
	// query unless To has one.
	To     string `toml:"to"`
	Status int    `toml:"status"` // 301 (when zero), 302, 307 or 308; 200 rewrites
}

// Trailing-slash policies (Config.TrailingSlash).
const (
	// TrailingSlashAdd: a page reached by its clean URL ("/about" for
	// about.html) is redirected to its slashed path ("/about/"), where
	// it is served; directories redirect to theirs as always.
	TrailingSlashAdd = "add"
	// TrailingSlashRemove: a path with a trailing slash (but "/") is
	// redirected to the same path without it, where directories serve
	// their index in place.
	TrailingSlashRemove = "remove"
)

// redirectRule is a compiled Redirect.
type redirectRule struct {
	g      pathGlob
	to     string
	splat  bool // to holds ":splat"
	status int  // 200 for a rewrite
}

func compileRedirects(rs []Redirect) ([]redirectRule, error) {
	out := make([]redirectRule, 0, len(rs))
	for i, r := range rs {
		g, err := compileGlob(r.From)
		if err != nil {
			return nil, fmt.Errorf("weft: redirect %d: from: %w", i+1, err)
		}
		rr := redirectRule{g: g, to: r.To, status: r.Status, splat: strings.Contains(r.To, ":splat")}
		switch r.Status {
		case 0:
			rr.status = 301
		case 200, 301, 302, 307, 308:
		default:
			return nil, fmt.Errorf("weft: redirect %d (%s): status %d: want 301, 302, 307, 308 or 200 (rewrite)", i+1, r.From, r.Status)
		}
		abs := strings.HasPrefix(r.To, "https://") || strings.HasPrefix(r.To, "http://")
		switch {
		case strings.ContainsAny(r.To, "\x00\r\n \t\"<>\\"):
			return nil, fmt.Errorf("weft: redirect %d (%s): to %q: bytes a URL may not hold", i+1, r.From, r.To)
		case abs && rr.status == 200:
			return nil, fmt.Errorf("weft: redirect %d (%s): a rewrite serves a file of the site: to %q is a URL", i+1, r.From, r.To)
		case !abs && (!strings.HasPrefix(r.To, "/") || strings.HasPrefix(r.To, "//")):
			return nil, fmt.Errorf("weft: redirect %d (%s): to %q: want a path from the root or an http(s) URL", i+1, r.From, r.To)
		case rr.splat && !g.splat:
			return nil, fmt.Errorf("weft: redirect %d: to %q uses :splat, but from %q does not end in its only wildcard", i+1, r.To, r.From)
		}
		out = append(out, rr)
	}
	for i := range out {
		if out[i].loops(out, i) {
			return nil, fmt.Errorf("weft: redirect %d: from %q to %q redirects to itself, a loop every client follows until it gives up", i+1, rs[i].From, rs[i].To)
		}
	}
	return out, nil
}

// loopProbe stands for any splat when loops looks for a self-redirect.
const loopProbe = "weft-loop-probe"

// loops reports whether the redirect rules[i] sends a request to a path
// that it matches again first, with the same splat ("/a" to "/a",
// "/blog/**" to "/blog/:splat"): a loop seen from the rule alone. A
// rewrite or an absolute URL (another host, perhaps) is no such loop.
func (r *redirectRule) loops(rules []redirectRule, i int) bool {
	if r.status == 200 || !strings.HasPrefix(r.to, "/") {
		return false
	}
	to, _, _ := strings.Cut(r.target(loopProbe), "?")
	name, trailing, err := resolve([]byte(to), true)
	if err != nil {
		return false
	}
	p := pathOf(name, trailing)
	for j := range rules {
		if splat, ok := rules[j].g.capture(p); ok {
			return j == i && (!r.splat || splat == loopProbe)
		}
	}
	return false
}

// matchRedirect returns the first rule matching the path p and the
// splat it captured, or nil.
func (s *Site) matchRedirect(p string) (*redirectRule, string) {
	for i := range s.redirects {
		r := &s.redirects[i]
		if splat, ok := r.g.capture(p); ok {
			return r, splat
		}
	}
	return nil, ""
}

// target is r.To with the splat substituted, percent-encoded as a path
// before any "?" and as a query component after it.
func (r *redirectRule) target(splat string) string {
	if !r.splat {
		return r.to
	}
	path, query, ok := strings.Cut(r.to, "?")
	path = strings.ReplaceAll(path, ":splat", escapePath(splat))
	if !ok {
		return path
	}
	return path + "?" + strings.ReplaceAll(query, ":splat", escapeQuery(splat))
}

// redirect plans a redirect with status to loc (a path or URL, already
// encoded), keeping the request's query when loc has none.
func redirect(req *http1.Request, resp *http1.Response, status int, loc string) {
	// Never emit "//host": a protocol-relative Location would leave the site.
	for len(loc) > 1 && loc[0] == '/' && loc[1] == '/' {
		loc = loc[1:]
	}
	http1.ErrorPage(resp, status)
	if req.Query != nil && !strings.Contains(loc, "?") {
		resp.Header.AddJoined("Location", []byte(loc), question, req.Query)
	} else {
		resp.AddHeader("Location", loc)
	}
}

// escapePath percent-encodes the decoded path p for a Location or for
// resolve: every byte but the unreserved ones, "/" and the sub-delims
// that need no quoting in a path (RFC 3986 §3.3).
func escapePath(p string) string {
	return escapeKeeping(p, "-._~/!$&'()*+,;=:@")
}

// escapeQuery percent-encodes s for one value of a query: every byte but
// the unreserved ones and the few that no query parser splits on or
// decodes ("!$'()*,:@"), so "&", "=", "+", ";", "/", "?" and "#" are
// encoded.
func escapeQuery(s string) string {
	return escapeKeeping(s, "-._~!$'()*,:@")
}

// escapeKeeping percent-encodes every byte of s but letters, digits and
// those in keep.
func escapeKeeping(s, keep string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// cleanRedirect returns where a request for the path p of the file name
// is redirected under clean URLs, or "": "/about.html" to "/about" and
// "/dir/index.html" to "/dir/", when the clean URL would serve the same
// file (no "about" beside about.html).
func (s *Site) cleanRedirect(p, name string) string {
	if !s.cfg.CleanURLs || !strings.HasSuffix(p, ".html") {
		return ""
	}
	if fi, err := s.stat(name); err != nil || !fi.Mode().IsRegular() {
		return "" // nothing to serve there: the answer is the file's
	}
	if base := p[strings.LastIndexByte(p, '/')+1:]; base == s.cfg.Index {
		return escapePath(p[:len(p)-len(base)])
	}
	stem := strings.TrimSuffix(name, ".html")
	if stem == "" || strings.HasSuffix(stem, "/") {
		return ""
	}
	if _, err := s.stat(stem); !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	loc := strings.TrimSuffix(p, ".html")
	if s.cfg.TrailingSlash == TrailingSlashAdd {
		loc += "/"
	}
	return escapePath(loc)
}

// pathOf is the path rules match for the resolved name of a request:
// "/" and the name, with a trailing slash for a request that ended in one.
func pathOf(name string, trailing bool) string {
	if name == "." {
		return "/"
	}
	if trailing {
		return "/" + name + "/"
	}
	return "/" + name
}
