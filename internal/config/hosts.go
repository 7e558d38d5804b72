package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/weft-server/weft/internal/site"
)

// Host is one [[site]] table of the file: a virtual host, serving the
// requests whose Host it names. A site inherits every key from the top
// level (defaults < file < environment < flags) but those its table sets
// itself, which only the keys marked PerSite may be. A site is set in the
// file only: a flag or variable sets the top-level value the sites
// inherit.
type Host struct {
	Hosts   []string // exact names and "*.example.org" wildcards
	Default bool     // answers the requests no site names
	Line    int      // where its table begins in the file

	keys *Config // the values of the keys the table sets, with their sources
}

// SiteKeys are the keys a [[site]] table may set.
func SiteKeys() []*Key {
	var keys []*Key
	for i := range Keys {
		if Keys[i].PerSite {
			keys = append(keys, &Keys[i])
		}
	}
	return keys
}

// Sets reports whether the site's table sets the key name.
func (h *Host) Sets(name string) bool { return h.keys != nil && h.keys.Set(name) }

// SiteConfig is the configuration of the virtual host h, one of c.Sites:
// c with the keys h sets, and their sources.
func (c *Config) SiteConfig(h *Host) *Config {
	e := *c
	e.sources = maps.Clone(c.sources)
	e.Sites = nil
	for _, k := range SiteKeys() {
		if h.Sets(k.Name) {
			set(k.field(&e), clone(k.field(h.keys)))
			e.sources[k.Name] = h.keys.sources[k.Name]
		}
	}
	return &e
}

// Hosts is the configuration of the virtual hosts, or nil when the file
// has no [[site]] table (then Site is served).
func (c *Config) Hosts() *site.HostsConfig {
	if len(c.Sites) == 0 {
		return nil
	}
	hc := &site.HostsConfig{Unknown: c.UnknownHost}
	for i := range c.Sites {
		h := &c.Sites[i]
		hc.Sites = append(hc.Sites, site.HostConfig{Hosts: slices.Clone(h.Hosts), Default: h.Default, Site: c.SiteConfig(h).Site()})
	}
	return hc
}

// checkSites checks each site's names and the keys it sets (and those it
// inherits, in its company: a site's cache_control against an inherited
// no_cache_control), that no name belongs to two sites and that one site
// at most is the default.
func (c *Config) checkSites() []error {
	var errs []error
	seen := map[string]int{} // host name → the site that has it
	def := -1
	for i := range c.Sites {
		h := &c.Sites[i]
		prefix := "site[" + strconv.Itoa(i) + "]"
		at := func(path string) Source {
			src := Source{Kind: FromFile, Name: c.File, Line: h.Line}
			if l := c.lines[prefix+path]; l > 0 {
				src.Line = l
			}
			return src
		}
		if len(h.Hosts) == 0 && !h.Default {
			errs = append(errs, &Error{Source: at(".hosts"), Key: prefix + ".hosts", Msg: "no hosts and not the default"})
		}
		for j, n := range h.Hosts {
			hc := site.HostsConfig{Sites: []site.HostConfig{{Hosts: []string{n}}}}
			if err := trimErr(hc.Validate(), "site 1 (): "); err != nil {
				path := ".hosts[" + strconv.Itoa(j) + "]"
				errs = append(errs, &Error{Source: at(path), Key: prefix + path, Msg: err.Error()})
			}
		}
		if h.Default {
			if def >= 0 {
				errs = append(errs, &Error{Source: at(".default"), Key: prefix + ".default",
					Msg: fmt.Sprintf("a second default site (the first is site[%d], line %d)", def, c.Sites[def].Line)})
			} else {
				def = i
			}
		}
		for j, n := range h.Hosts {
			norm := strings.TrimSuffix(strings.ToLower(n), ".")
			if other, ok := seen[norm]; ok && other != i {
				path := ".hosts[" + strconv.Itoa(j) + "]"
				errs = append(errs, &Error{Source: at(path), Key: prefix + path,
					Msg: fmt.Sprintf("host %q is site[%d]'s too", n, other)})
				continue
			}
			seen[norm] = i
		}

		e := c.SiteConfig(h)
		for _, k := range SiteKeys() {
			if k.check == nil {
				continue
			}
			err := k.check(e)
			switch {
			case err == nil:
			case h.Sets(k.Name):
				errs = append(errs, c.keyError(h.keys.sources[k.Name], prefix+".", k.Name, err))
			case k.check(c) == nil: // else reported at the top level
				errs = append(errs, &Error{Source: at(""), Key: prefix, Msg: k.Name + " (inherited): " + err.Error()})
			}
		}
		if err := e.checkListen(); err != nil {
			key := e.authKey()
			if h.Sets(key) {
				errs = append(errs, c.keyError(h.keys.sources[key], prefix+".", key, err))
			} else {
				errs = append(errs, &Error{Source: at(""), Key: prefix, Msg: key + " (inherited): " + err.Error()})
			}
		}
	}
	return errs
}
