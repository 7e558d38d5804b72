package site

import (
	"bytes"
	"strings"

	"github.com/weft-server/weft/internal/http1"
)

// The single-page-app fallback (Config.SPA): a request for a missing path
// is answered with the app's file (200, its own validators) only when it
// is a navigation, so that a missing script or image stays a 404 and a
// broken deploy shows instead of HTML served as JavaScript. A navigation
// is a GET or HEAD whose last path segment has no extension ("/settings",
// "/users/42/", not "/app.js") and that says it wants a document:
// Sec-Fetch-Mode: navigate, or, from a client that sends no
// Sec-Fetch-Mode, an Accept that ranks text/html first.

// isNavigation reports whether req, for the path p, is a navigation.
func isNavigation(req *http1.Request, p string) bool {
	seg := strings.TrimSuffix(p, "/")
	seg = seg[strings.LastIndexByte(seg, '/')+1:]
	if strings.IndexByte(seg, '.') >= 0 {
		return false
	}
	if mode := lookupHeader(req, "sec-fetch-mode"); mode != nil {
		return http1.EqualFold(mode, "navigate")
	}
	return prefersHTML(lookupHeader(req, "accept"))
}

// prefersHTML reports whether the Accept value h lists text/html with a
// weight above zero and at least as high as any other member's.
func prefersHTML(h []byte) bool {
	html, best := -1, 0
	for len(h) > 0 {
		var member []byte
		member, h, _ = bytes.Cut(h, []byte(","))
		typ, params, _ := bytes.Cut(member, []byte(";"))
		typ = bytes.TrimSpace(typ)
		if len(typ) == 0 {
			continue
		}
		q := qvalue(params)
		if http1.EqualFold(typ, "text/html") {
			html = max(html, q)
		} else {
			best = max(best, q)
		}
	}
	return html > 0 && html >= best
}

// qvalue is the weight, in thousandths, in the parameters of an Accept
// member (1000 when absent, 0 when malformed).
func qvalue(params []byte) int {
	for len(params) > 0 {
		var v []byte
		if v, params = nextParam(params, "q"); v == nil {
			continue
		}
		if len(v) == 0 || v[0] != '0' && v[0] != '1' {
			return 0
		}
		q := int(v[0]-'0') * 1000
		if len(v) > 1 {
			if v[1] != '.' || len(v) > 5 {
				return 0
			}
			scale := 100
			for _, c := range v[2:] {
				if c < '0' || c > '9' {
					return 0
				}
				q += int(c-'0') * scale
				scale /= 10
			}
		}
		if q > 1000 {
			return 0 // "1.5": malformed (RFC 9110 §12.4.2)
		}
		return q
	}
	return 1000
}

// nextParam splits the first ";"-separated parameter off params and
// returns its value, unquoted and trimmed, if its name is name (lower
// case), else nil; and what follows it.
func nextParam(params []byte, name string) (value, rest []byte) {
	p, rest, _ := bytes.Cut(params, []byte(";"))
	k, v, ok := bytes.Cut(bytes.TrimSpace(p), []byte("="))
	if !ok || !http1.EqualFold(bytes.TrimSpace(k), name) {
		return nil, rest
	}
	v = bytes.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v, rest
}
