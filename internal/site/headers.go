package site

import (
	"fmt"
	"slices"
	"strings"

	"github.com/weft-server/weft/internal/http1"
)

// HeaderRule changes the response headers of the paths For matches. Every
// rule that matches applies, in order: first Remove, then Set, then Add.
// Rules see weft's own Cache-Control, Last-Modified and Accept-Ranges,
// the security preset and the lines of earlier rules, so a later rule can
// undo an earlier one ("/embed/**" removing X-Frame-Options).
//
// A file's rules are matched against the path of the file served
// ("/dir/index.html" for "/dir/") and folded into its pre-rendered
// header lines, once per version of the file: a cached GET costs the
// same with rules as without. Redirects, listings and preflights get the
// rules of their request path; error responses (status 400 and above)
// get only the security preset and CORS, never a rule's lines (a rule
// giving /assets/** a year of caching must not make a 404 stick).
type HeaderRule struct {
	For    string            `toml:"for"`    // path pattern (see pathGlob: "/assets/**", "*.woff2")
	Set    map[string]string `toml:"set"`    // name → value: replaces every earlier line of that name
	Add    map[string]string `toml:"add"`    // name → value: one more line, earlier ones kept
	Remove []string          `toml:"remove"` // names whose lines are dropped, weft's own removable ones included
}

// The security preset (Config.Security): conservative values that break
// no ordinary static site. The policy lets a page load its own scripts,
// styles, images, fonts and media, inline styles and data: images, and
// nothing from elsewhere; the inline scripts it runs are the folder
// listing's filter and upload progress, allowed by their hashes
// (listingScriptHash, uploadScriptHash). A site that
// needs more sets its own Content-Security-Policy with a rule.
var securityPreset = [...]field{
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "strict-origin-when-cross-origin"},
	{"X-Frame-Options", "SAMEORIGIN"},
	{"Content-Security-Policy", "default-src 'self'; script-src 'self' " + listingScriptHash + " " + uploadScriptHash + "; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"},
}

// DefaultHSTS is the Strict-Transport-Security value of the security
// preset when Config.HSTS is empty.
const DefaultHSTS = "max-age=31536000"

// field is one header line to send.
type field struct{ name, value string }

// headerRule is a compiled HeaderRule; set and add are sorted by name so
// the bytes sent do not depend on map order.
type headerRule struct {
	g      pathGlob
	remove []string
	set    []field
	add    []field
}

// How rules may touch a header weft itself manages.
const (
	mayNot    = iota + 1 // framing, validators, negotiation and the headers of other rules
	mayRemove            // Last-Modified, Accept-Ranges
	maySet               // Cache-Control: set or remove (it has one value)
)

var managed = map[string]int{
	"content-length": mayNot, "content-type": mayNot, "content-encoding": mayNot, "content-range": mayNot,
	"transfer-encoding": mayNot, "connection": mayNot, "keep-alive": mayNot, "upgrade": mayNot, "trailer": mayNot,
	"te": mayNot, "date": mayNot, "server": mayNot, "etag": mayNot, "vary": mayNot, "location": mayNot,
	"allow": mayNot, "www-authenticate": mayNot, "retry-after": mayNot, "strict-transport-security": mayNot,
	"last-modified": mayRemove, "accept-ranges": mayRemove, "cache-control": maySet,
}

// checkHeaderName reports why a rule may not do op ("set", "add",
// "remove") to the header name, or nil.
func checkHeaderName(name, op string) error {
	if !isToken(name) {
		return fmt.Errorf("bad header name %q", name)
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "access-control-") {
		return fmt.Errorf("%s %s: CORS headers come from the CORS policy", op, name)
	}
	switch m := managed[lower]; {
	case m == mayNot:
		return fmt.Errorf("%s %s: weft manages this header (Content-Type: mime; HSTS: hsts)", op, name)
	case m == mayRemove && op != "remove":
		return fmt.Errorf("%s %s: weft's own value may only be removed", op, name)
	case m == maySet && op == "add":
		return fmt.Errorf("add %s: it has one value: set it", name)
	}
	return nil
}

// checkHeaderValue reports a value that cannot be sent as is.
func checkHeaderValue(name, v string) error {
	if strings.TrimSpace(v) != v || v == "" {
		return fmt.Errorf("header %s: empty value or surrounding spaces in %q", name, v)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("header %s: control byte in %q", name, v)
		}
	}
	return nil
}

func compileHeaderRules(rules []HeaderRule) ([]headerRule, error) {
	out := make([]headerRule, 0, len(rules))
	for i, r := range rules {
		g, err := compileGlob(r.For)
		if err != nil {
			return nil, fmt.Errorf("weft: header rule %d: %w", i+1, err)
		}
		hr := headerRule{g: g}
		for _, n := range r.Remove {
			if err := checkHeaderName(n, "remove"); err != nil {
				return nil, fmt.Errorf("weft: header rule %d (%s): %w", i+1, r.For, err)
			}
			hr.remove = append(hr.remove, n)
		}
		for op, m := range map[string]map[string]string{"set": r.Set, "add": r.Add} {
			var fs []field
			for n, v := range m {
				if err := checkHeaderName(n, op); err != nil {
					return nil, fmt.Errorf("weft: header rule %d (%s): %w", i+1, r.For, err)
				}
				if err := checkHeaderValue(n, v); err != nil {
					return nil, fmt.Errorf("weft: header rule %d (%s): %w", i+1, r.For, err)
				}
				fs = append(fs, field{n, v})
			}
			slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.name, b.name) })
			if op == "set" {
				hr.set = fs
			} else {
				hr.add = fs
			}
		}
		out = append(out, hr)
	}
	return out, nil
}

// headerSet is what a response's header lines are besides those its
// plan fixes: weft's removable ones, the preset's and the rules'.
type headerSet struct {
	lines          []field
	cc             string // Cache-Control, "" for none
	ccTouched      bool   // a rule set or removed Cache-Control
	noLastModified bool
	noAcceptRanges bool
	varyOrigin     bool // the response depends on the request's Origin (CORS with listed origins)
}

// headersFor is the header set for the path p whose Cache-Control would
// be cc: the security preset, the CORS lines that do not depend on the
// request, then, with rules, the header rules that match p.
func (s *Site) headersFor(p, cc string, rules bool) headerSet {
	hs := headerSet{cc: cc}
	if s.cfg.Security {
		for _, f := range securityPreset {
			hs.lines = append(hs.lines, f)
		}
	}
	if s.cors != nil {
		s.cors.static(&hs, p)
	}
	if !rules {
		return hs
	}
	for i := range s.headers {
		r := &s.headers[i]
		if !r.g.match(p) {
			continue
		}
		for _, n := range r.remove {
			hs.remove(n)
		}
		for _, f := range r.set {
			hs.remove(f.name)
			hs.add(f)
		}
		for _, f := range r.add {
			hs.add(f)
		}
	}
	return hs
}

func (hs *headerSet) remove(name string) {
	switch {
	case strings.EqualFold(name, "cache-control"):
		hs.cc, hs.ccTouched = "", true
	case strings.EqualFold(name, "last-modified"):
		hs.noLastModified = true
	case strings.EqualFold(name, "accept-ranges"):
		hs.noAcceptRanges = true
	default:
		hs.lines = slices.DeleteFunc(hs.lines, func(f field) bool { return strings.EqualFold(f.name, name) })
	}
}

func (hs *headerSet) add(f field) {
	if strings.EqualFold(f.name, "cache-control") {
		hs.cc, hs.ccTouched = f.value, true
		return
	}
	hs.lines = append(hs.lines, f)
}

// addTo adds the set's own fields to f.
func (hs *headerSet) addTo(f *http1.Fields) {
	for _, l := range hs.lines {
		f.Add(l.name, l.value)
	}
}

// fileHeaders is the header set folded into the entries of the file name.
func (s *Site) fileHeaders(name string) headerSet {
	return s.headersFor("/"+name, s.cacheControl(name), true)
}

// addHeaders adds to a response not made from an entry (an error, a
// redirect, a listing, a preflight) the header set of the request path p:
// the rules' lines only below status 400 (see HeaderRule).
func (s *Site) addHeaders(resp *http1.Response, p string) {
	if !s.hasHeaders {
		return
	}
	hs := s.headersFor(p, "", resp.Status < 400)
	if hs.ccTouched {
		resp.Header.Remove("cache-control")
		if hs.cc != "" {
			resp.AddHeader("Cache-Control", hs.cc)
		}
	}
	if hs.varyOrigin {
		resp.AddHeader("Vary", "Origin")
	}
	hs.addTo(&resp.Header)
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
