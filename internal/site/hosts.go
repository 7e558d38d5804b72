package site

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/weft-server/weft/internal/http1"
)

// HostsConfig is a set of virtual hosts: sites chosen by the request's
// Host (or an absolute-form target's authority), each with its own root,
// cache and rules.
type HostsConfig struct {
	Sites []HostConfig
	// Unknown is the status for a request whose Host no site names, when
	// no site is the Default: 421 (Misdirected Request, when zero) or 404.
	Unknown int
}

// HostConfig is one virtual host.
type HostConfig struct {
	// Hosts are the names the site answers to: exact ("example.com") or
	// wildcards ("*.example.org": any name ending in ".example.org", at
	// any depth, not example.org itself). Matching ignores case, the port
	// and a final dot; an exact name wins over wildcards, a longer
	// wildcard over a shorter one.
	Hosts   []string
	Default bool // answers requests no site names, and those without a Host (HTTP/1.0)
	Site    Config
}

// Hosts serves each request from the site its Host names. It is safe for
// concurrent use; it allocates nothing to pick a site.
type Hosts struct {
	exact   map[string]*Site
	wild    []wildHost // longest suffix first
	def     *Site
	unknown int
	sites   []*Site
}

type wildHost struct {
	suffix string // ".example.org"
	site   *Site
}

var _ http1.MemoryHandler = (*Hosts)(nil)

// maxHost is the longest Host weft looks up (a DNS name has at most 253
// characters); longer ones are unknown.
const maxHost = 255

// check validates the hosts of cfg (not the sites) and returns each
// site's names, normalized.
func (c *HostsConfig) check() ([][]string, error) {
	switch c.Unknown {
	case 0, 404, 421:
	default:
		return nil, fmt.Errorf("weft: hosts: status for unknown hosts %d: want 421 or 404", c.Unknown)
	}
	if len(c.Sites) == 0 {
		return nil, errors.New("weft: hosts: no site")
	}
	seen, def := map[string]bool{}, false
	all := make([][]string, len(c.Sites))
	for i, hc := range c.Sites {
		if len(hc.Hosts) == 0 && !hc.Default {
			return nil, fmt.Errorf("weft: site %d (%s): no hosts and not the default", i+1, hc.Site.Root)
		}
		if hc.Default && def {
			return nil, fmt.Errorf("weft: site %d (%s): a second default site", i+1, hc.Site.Root)
		}
		def = def || hc.Default
		for _, n := range hc.Hosts {
			norm, err := normalizeHostName(n)
			if err != nil {
				return nil, fmt.Errorf("weft: site %d (%s): %w", i+1, hc.Site.Root, err)
			}
			if seen[norm] {
				return nil, fmt.Errorf("weft: site %d (%s): host %q is another site's too", i+1, hc.Site.Root, n)
			}
			seen[norm] = true
			all[i] = append(all[i], norm)
		}
	}
	return all, nil
}

// Validate checks c as OpenHosts does, short of opening the roots (see
// Config.Validate).
func (c HostsConfig) Validate() error {
	if _, err := c.check(); err != nil {
		return err
	}
	for i := range c.Sites {
		if err := c.Sites[i].Site.Validate(); err != nil {
			return fmt.Errorf("weft: site %d: %w", i+1, err)
		}
	}
	return nil
}

// OpenHosts opens every site of cfg. On error, what was opened is closed.
func OpenHosts(cfg HostsConfig) (*Hosts, error) {
	all, err := cfg.check()
	if err != nil {
		return nil, err
	}
	h := &Hosts{exact: make(map[string]*Site), unknown: cfg.Unknown}
	if h.unknown == 0 {
		h.unknown = 421
	}
	for i, hc := range cfg.Sites {
		st, err := Open(hc.Site)
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("weft: site %d: %w", i+1, err)
		}
		h.sites = append(h.sites, st)
		for _, n := range all[i] {
			if strings.HasPrefix(n, "*.") {
				h.wild = append(h.wild, wildHost{n[1:], st})
			} else {
				h.exact[n] = st
			}
		}
		if hc.Default {
			h.def = st
		}
	}
	sort.SliceStable(h.wild, func(i, j int) bool { return len(h.wild[i].suffix) > len(h.wild[j].suffix) })
	return h, nil
}

// normalizeHostName checks a configured host name and returns it in
// lower case without a final dot.
func normalizeHostName(n string) (string, error) {
	norm := strings.TrimSuffix(strings.ToLower(n), ".")
	rest := strings.TrimPrefix(norm, "*.")
	if rest == "" || len(norm) > maxHost || strings.ContainsAny(rest, "*:/ ") {
		return "", fmt.Errorf("host %q: want a name (\"example.com\") or a wildcard (\"*.example.org\"), without a port", n)
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '[' || c == ']') {
			return "", fmt.Errorf("host %q: %q is not a host name character", n, c)
		}
	}
	return norm, nil
}

// CheckListen is Config.CheckListen for every site.
func (c *HostsConfig) CheckListen(addr string, tls bool) error {
	for i := range c.Sites {
		if err := c.Sites[i].Site.CheckListen(addr, tls); err != nil {
			return err
		}
	}
	return nil
}

// Roots returns the folders the hosts' sites serve.
func (h *Hosts) Roots() []string {
	var roots []string
	for _, s := range h.sites {
		roots = append(roots, s.Roots()...)
	}
	return roots
}

// Stats sum the file caches of the hosts' sites.
func (h *Hosts) Stats() CacheStats {
	var st CacheStats
	for _, s := range h.sites {
		st.Add(s.Stats())
	}
	return st
}

// Close closes every site.
func (h *Hosts) Close() error {
	var errs []error
	for _, st := range h.sites {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// pick returns the site for the Host host, or nil.
func (h *Hosts) pick(host []byte) *Site {
	var space [maxHost]byte
	name := hostName(space[:0], host)
	if name == nil {
		return h.def
	}
	if st, ok := h.exact[string(name)]; ok {
		return st
	}
	for i := range h.wild {
		w := &h.wild[i]
		if len(name) > len(w.suffix) && string(name[len(name)-len(w.suffix):]) == w.suffix {
			return w.site
		}
	}
	return h.def
}

// hostName appends to dst the host of a Host value, lower case, without
// its port or a final dot; nil when there is none or it is too long.
func hostName(dst, host []byte) []byte {
	if len(host) > 0 && host[0] == '[' {
		if end := strings.IndexByte(b2s(host), ']'); end > 0 {
			host = host[:end+1]
		}
	} else if i := strings.LastIndexByte(b2s(host), ':'); i >= 0 {
		host = host[:i]
	}
	if len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	if len(host) == 0 || len(host) > cap(dst) {
		return nil
	}
	for _, c := range host {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// ServeHTTP1 implements http1.Handler.
func (h *Hosts) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	if st := h.pick(req.Host); st != nil {
		st.ServeHTTP1(req, resp)
		return
	}
	http1.ErrorPage(resp, h.unknown)
}

// BodyLimit implements http1.BodyHandler: the host's site decides.
func (h *Hosts) BodyLimit(req *http1.Request) int64 {
	if st := h.pick(req.Host); st != nil {
		return st.BodyLimit(req)
	}
	return 0
}

// ServeFromMemory implements http1.MemoryHandler.
func (h *Hosts) ServeFromMemory(req *http1.Request, resp *http1.Response) bool {
	if st := h.pick(req.Host); st != nil {
		return st.ServeFromMemory(req, resp)
	}
	return false
}
