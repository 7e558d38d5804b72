package site

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/weft-server/weft/internal/http1"
)

// CORS is a cross-origin resource sharing policy (Fetch standard, §3.2).
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) from
// an allowed origin is answered 204 with the Access-Control-Allow-*
// headers; other requests from an allowed origin get
// Access-Control-Allow-Origin (and -Credentials, -Expose-Headers).
//
// With Origins ["*"] and no Credentials the answer is the same for every
// origin: "Access-Control-Allow-Origin: *" is part of every response's
// pre-rendered header lines, whether the request has an Origin or not.
// With listed origins, the request's Origin is echoed when listed, and
// every response says "Vary: Origin" (also pre-rendered), so that a cache
// never hands one origin's answer to another.
type CORS struct {
	Origins     []string `toml:"origins"`     // allowed origins ("https://app.example.com", scheme://host[:port]), or the one entry "*"
	Methods     []string `toml:"methods"`     // methods a preflight allows; GET and HEAD when empty
	Headers     []string `toml:"headers"`     // request headers a preflight allows; "*" allows any (not with Credentials)
	Expose      []string `toml:"expose"`      // response headers a script may read (Access-Control-Expose-Headers)
	Credentials bool     `toml:"credentials"` // allow cookies and HTTP authentication (Access-Control-Allow-Credentials)
	MaxAge      int      `toml:"max_age"`     // seconds a browser may cache a preflight's answer; 0 sends none
	Paths       []string `toml:"paths"`       // path patterns the policy applies to (see pathGlob); every path when empty
}

// corsPolicy is a compiled CORS.
type corsPolicy struct {
	any     bool     // Origins is "*"
	origins []string // lower case
	paths   []pathGlob
	creds   bool
	methods string // Access-Control-Allow-Methods
	headers string // Access-Control-Allow-Headers, "" for none
	expose  string // Access-Control-Expose-Headers, "" for none
	maxAge  string // Access-Control-Max-Age, "" for none
}

func compileCORS(c *CORS) (*corsPolicy, error) {
	if c == nil {
		return nil, nil
	}
	p := &corsPolicy{creds: c.Credentials}
	if len(c.Origins) == 0 {
		return nil, fmt.Errorf("weft: cors: no origins (a list, or \"*\")")
	}
	for _, o := range c.Origins {
		switch {
		case o == "*" && len(c.Origins) == 1:
			if c.Credentials {
				return nil, fmt.Errorf("weft: cors: origin \"*\" with credentials would let every site act as its visitors: list the origins")
			}
			p.any = true
		case validOrigin(o):
			p.origins = append(p.origins, strings.ToLower(o))
		default:
			return nil, fmt.Errorf("weft: cors: origin %q: want scheme://host[:port] without a path, or \"*\" alone", o)
		}
	}
	methods := c.Methods
	if len(methods) == 0 {
		methods = []string{"GET", "HEAD"}
	}
	for _, m := range methods {
		if !isToken(m) {
			return nil, fmt.Errorf("weft: cors: method %q is not a token", m)
		}
	}
	p.methods = strings.Join(methods, ", ")
	for _, h := range c.Headers {
		if h == "*" && c.Credentials {
			return nil, fmt.Errorf("weft: cors: headers \"*\" means any header only without credentials: list them")
		}
		if h != "*" && !isToken(h) {
			return nil, fmt.Errorf("weft: cors: header %q is not a field name", h)
		}
	}
	p.headers = strings.Join(c.Headers, ", ")
	for _, h := range c.Expose {
		if !isToken(h) {
			return nil, fmt.Errorf("weft: cors: exposed header %q is not a field name", h)
		}
	}
	p.expose = strings.Join(c.Expose, ", ")
	if c.MaxAge < 0 {
		return nil, fmt.Errorf("weft: cors: max-age %d: negative", c.MaxAge)
	}
	if c.MaxAge > 0 {
		p.maxAge = strconv.Itoa(c.MaxAge)
	}
	var err error
	if p.paths, err = compileGlobs("weft: cors paths", c.Paths); err != nil {
		return nil, err
	}
	return p, nil
}

// validOrigin reports whether o is a serialized origin: a scheme, "://",
// and a host with an optional port, nothing else.
func validOrigin(o string) bool {
	scheme, host, ok := strings.Cut(o, "://")
	if !ok || scheme == "" || host == "" || strings.ContainsAny(host, "/?#@ \t\"\\,") {
		return false
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// static adds to hs what the policy sends whatever the request's Origin:
// "*" and the exposed headers for any origin on the policy's paths,
// "Vary: Origin" for listed ones on every path. The latter ignores the
// paths because the path a file's lines are rendered for is not always
// the one the echo is decided by (see Site.finish): the root's index, a
// clean URL's page or a rewrite's target is served under another path.
func (c *corsPolicy) static(hs *headerSet, p string) {
	if !c.any {
		hs.varyOrigin = true
		return
	}
	if !matchAny(c.paths, p) {
		return
	}
	hs.lines = append(hs.lines, field{"Access-Control-Allow-Origin", "*"})
	if c.expose != "" {
		hs.lines = append(hs.lines, field{"Access-Control-Expose-Headers", c.expose})
	}
}

// allowed reports whether the request's origin o may read the path p,
// for the per-request lines (listed origins only: "*" is static).
func (c *corsPolicy) allowed(o []byte, p string) bool {
	if c.any || len(o) == 0 || !matchAny(c.paths, p) {
		return false
	}
	for _, a := range c.origins {
		if http1.EqualFold(o, a) {
			return true
		}
	}
	return false
}

// addLines adds the lines a response to an allowed origin o gets on top
// of the static ones. It allocates nothing once resp.Header has grown.
func (c *corsPolicy) addLines(resp *http1.Response, o []byte) {
	resp.AddHeaderBytes("Access-Control-Allow-Origin", o)
	if c.creds {
		resp.AddHeader("Access-Control-Allow-Credentials", "true")
	}
	if c.expose != "" {
		resp.AddHeader("Access-Control-Expose-Headers", c.expose)
	}
}

// preflight answers a CORS preflight for the path p, if req is one the
// policy covers: 204 with what the origin may do, or, for an origin not
// allowed, the plain OPTIONS answer (the browser then refuses the
// request). It reports whether it answered. The lines that do not depend
// on the origin ("*", Vary: Origin) are added with the path's other
// headers (see static), those that echo an allowed origin by Site.finish,
// as for any request. allowed is the path's Allow value.
func (c *corsPolicy) preflight(req *http1.Request, resp *http1.Response, p, allowed string) bool {
	if len(req.Origin) == 0 || lookupHeader(req, "access-control-request-method") == nil || !matchAny(c.paths, p) {
		return false
	}
	if !c.any && !c.allowed(req.Origin, p) {
		resp.Status = 200
		resp.AddHeader("Allow", allowed)
		return true
	}
	resp.Status = 204
	resp.AddHeader("Access-Control-Allow-Methods", c.methods)
	if c.headers != "" {
		resp.AddHeader("Access-Control-Allow-Headers", c.headers)
	}
	if c.maxAge != "" {
		resp.AddHeader("Access-Control-Max-Age", c.maxAge)
	}
	return true
}

// lookupHeader returns the value of the first field of req named name
// (lower case), or nil. A scan of every field: for rules off the cached
// path.
func lookupHeader(req *http1.Request, name string) []byte {
	for i := range req.Headers {
		if http1.EqualFold(req.Headers[i].Name, name) {
			return req.Headers[i].Value
		}
	}
	return nil
}
