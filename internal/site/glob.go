package site

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/bmatcuk/doublestar/v4"
)

// pathGlob is a compiled path pattern, the one matcher of every rule that
// names paths (Cache-Control, headers, CORS, redirects): doublestar
// syntax, where "*" matches within a segment and "**" across segments
// ("/assets/**" matches /assets, /assets/ and everything beneath). A
// pattern with a "/" is matched against the whole decoded path from the
// root ("/assets/app.js", "/docs/" for a directory); one without against
// the last segment alone ("*.woff2"). Matching allocates nothing.
type pathGlob struct {
	pattern string
	base    bool   // no "/": match the last segment
	literal bool   // no wildcard: an exact comparison
	prefix  string // with splat: the literal text before the final wildcard
	splat   bool   // the only wildcard is a final "*" or "**" (see capture)
}

// compileGlob checks and compiles p.
func compileGlob(p string) (pathGlob, error) {
	if p == "" || !doublestar.ValidatePattern(p) || strings.ContainsAny(p, "\x00\r\n") {
		return pathGlob{}, fmt.Errorf("weft: path pattern %q: bad pattern", p)
	}
	if strings.Contains(p, "/") && !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "*") {
		p = "/" + p // "assets/**" means "/assets/**", as users write it
	}
	g := pathGlob{pattern: p, base: !strings.Contains(p, "/")}
	meta := strings.IndexAny(p, "*?[{\\")
	g.literal = meta < 0
	if stem := strings.TrimRight(p, "*"); !g.base && len(stem) < len(p) && len(p)-len(stem) <= 2 && !strings.ContainsAny(stem, "*?[{\\") {
		g.splat, g.prefix = true, stem
	}
	return g, nil
}

// match reports whether the path p ("/" and the decoded path) matches.
func (g *pathGlob) match(p string) bool {
	if g.base {
		p = p[strings.LastIndexByte(p, '/')+1:]
	}
	if g.literal {
		return p == g.pattern
	}
	ok, _ := doublestar.Match(g.pattern, p)
	return ok
}

// capture reports whether p matches and, for a pattern whose only
// wildcard is a final "*" or "**" ("/blog/*", "/docs/**", "/old*"), what
// that wildcard matched: p without the pattern's literal prefix (empty
// when p is the prefix without its last slash, as "/docs" for "/docs/**").
// The splat of any other pattern is empty.
func (g *pathGlob) capture(p string) (splat string, ok bool) {
	if !g.match(p) {
		return "", false
	}
	if g.splat && strings.HasPrefix(p, g.prefix) {
		splat = p[len(g.prefix):]
	}
	return splat, true
}

// compileGlobs compiles each pattern of ps; what names the patterns in an
// error.
func compileGlobs(what string, ps []string) ([]pathGlob, error) {
	gs := make([]pathGlob, 0, len(ps))
	for _, p := range ps {
		g, err := compileGlob(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		gs = append(gs, g)
	}
	return gs, nil
}

// matchAny reports whether p matches one of gs, or gs is empty.
func matchAny(gs []pathGlob, p string) bool {
	if len(gs) == 0 {
		return true
	}
	for i := range gs {
		if gs[i].match(p) {
			return true
		}
	}
	return false
}

// b2s views b as a string without copying: b must not change while the
// string is in use, and the string must not outlive the call that made it.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
