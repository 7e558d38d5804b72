package config

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"

	"github.com/weft-server/weft/internal/site"
)

// The short forms of the site rules, for flags and the environment: one
// rule per flag (repeatable), and in the environment one rule, a list
// separated by commas, or the TOML value the file would hold.

// shortForms parses the short form of a value from the environment, by
// the key's type; keys of other types take only a TOML value there.
var shortForms = map[reflect.Type]func(string) (any, error){
	reflect.TypeFor[[]string](): func(s string) (any, error) { return splitList(s), nil },
	reflect.TypeFor[[]site.HeaderRule](): func(s string) (any, error) {
		r, err := ParseHeaderRule(s)
		return []site.HeaderRule{r}, err
	},
	reflect.TypeFor[[]site.Redirect](): func(s string) (any, error) {
		r, err := ParseRedirect(s)
		return []site.Redirect{r}, err
	},
	reflect.TypeFor[*site.CORS](): func(s string) (any, error) {
		return &site.CORS{Origins: splitList(s)}, nil
	},
	reflect.TypeFor[map[int]string](): func(s string) (any, error) {
		m := map[int]string{}
		for _, pair := range splitList(s) {
			if err := addErrorPage(m, pair); err != nil {
				return nil, err
			}
		}
		return m, nil
	},
	reflect.TypeFor[[]netip.Prefix](): func(s string) (any, error) { return parsePrefixes(s) },
}

// ParseHeaderRule parses the flag form of a header rule, 'GLOB: Name:
// value': the header Name is set to value on the paths GLOB matches. The
// glob ends at the first colon, so a glob with a colon needs the file.
func ParseHeaderRule(s string) (site.HeaderRule, error) {
	glob, rest, ok1 := strings.Cut(s, ":")
	name, value, ok2 := strings.Cut(rest, ":")
	glob, name, value = strings.TrimSpace(glob), strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok1 || !ok2 || glob == "" || name == "" || value == "" {
		return site.HeaderRule{}, fmt.Errorf("want 'GLOB: Name: value', e.g. '/assets/**: Cache-Control: public, max-age=31536000', got %q", s)
	}
	return site.HeaderRule{For: glob, Set: map[string]string{name: value}}, nil
}

// ParseRedirect parses the flag form of a redirect, 'FROM TO [STATUS]'.
func ParseRedirect(s string) (site.Redirect, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return site.Redirect{}, fmt.Errorf("want 'FROM TO [STATUS]', e.g. '/old/* /new/:splat 308', got %q", s)
	}
	r := site.Redirect{From: f[0], To: f[1]}
	if len(f) == 3 {
		status, err := strconv.Atoi(f[2])
		if err != nil {
			return site.Redirect{}, fmt.Errorf("status %q: want 301, 302, 307, 308 or 200 (a rewrite)", f[2])
		}
		r.Status = status
	}
	return r, nil
}

// addErrorPage parses STATUS=FILE into m.
func addErrorPage(m map[int]string, s string) error {
	status, file, ok := strings.Cut(s, "=")
	n, err := strconv.Atoi(strings.TrimSpace(status))
	file = strings.TrimSpace(file)
	if !ok || err != nil || file == "" {
		return fmt.Errorf("want STATUS=FILE, e.g. 404=404.html, got %q", s)
	}
	m[n] = file
	return nil
}

// parsePrefixes parses CIDRs separated by commas.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	ps := []netip.Prefix{}
	for _, item := range splitList(s) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("want CIDRs such as 10.0.0.0/8 separated by commas: %q", item)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// splitList splits s at commas, dropping empty items and spaces.
func splitList(s string) []string {
	var items []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	return items
}

// Checking the rules: each is checked as the site will check it
// (site.Config.Validate), one rule at a time where the value is a list,
// so that a problem is reported at its element and line.

// siteCheck validates a site configuration holding one rule, and returns
// its error without the "weft: " and the given prefixes (which name the
// rule as the site's error does, and which the key path replaces).
func siteCheck(sc site.Config, prefixes ...string) error {
	return trimErr(sc.Validate(), prefixes...)
}

// trimErr is err, of the site package, without "weft: " and the first of
// prefixes it begins with after that; nil for nil.
func trimErr(err error, prefixes ...string) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimPrefix(err.Error(), "weft: ")
	for _, p := range prefixes {
		if strings.HasPrefix(msg, p) {
			msg = msg[len(p):]
			break
		}
	}
	return errors.New(msg)
}

func checkHeaders(c *Config) error {
	for i, r := range c.Headers {
		if err := siteCheck(site.Config{Headers: []site.HeaderRule{r}}, "header rule 1 ("+r.For+"): ", "header rule 1: "); err != nil {
			return &partError{fmt.Sprintf("headers[%d]", i), err}
		}
	}
	return nil
}

func checkRedirects(c *Config) error {
	for i, r := range c.Redirects {
		if err := siteCheck(site.Config{Redirects: []site.Redirect{r}}, "redirect 1 ("+r.From+"): ", "redirect 1: "); err != nil {
			return &partError{fmt.Sprintf("redirects[%d]", i), err}
		}
	}
	return nil
}

func checkErrorPages(c *Config) error {
	for status, file := range c.ErrorPages {
		if err := siteCheck(site.Config{ErrorPages: map[int]string{status: file}}, fmt.Sprintf("error page for status %d: ", status)); err != nil {
			return &partError{fmt.Sprintf("error_pages.%d", status), err}
		}
	}
	return nil
}

func checkAuth(c *Config) error {
	for i, r := range c.Auth {
		if err := siteCheck(site.Config{Auth: []site.AuthRule{r}}); err != nil {
			return &partError{fmt.Sprintf("auth[%d]", i), err}
		}
	}
	return siteCheck(site.Config{Auth: c.Auth}) // the same prefix twice
}

func checkBasicAuth(c *Config) error {
	if c.BasicAuth == "" {
		return nil
	}
	for _, r := range c.Auth {
		if strings.Trim(r.Prefix, "/") == "" {
			return fmt.Errorf("contradicts the auth rule for %q (%s): basic_auth is that rule", r.Prefix, c.Source("auth"))
		}
	}
	return siteCheck(site.Config{Auth: []site.AuthRule{{Prefix: "/", Htpasswd: c.BasicAuth}}})
}

// authRules are the site's authentication rules: auth's, and basic_auth
// for the whole site.
func (c *Config) authRules() []site.AuthRule {
	rules := clone(&c.Auth).([]site.AuthRule)
	if c.BasicAuth != "" {
		rules = append(rules, site.AuthRule{Prefix: "/", Htpasswd: c.BasicAuth})
	}
	return rules
}

// checkListen refuses basic authentication over plain HTTP beyond
// loopback (site.Config.CheckListen), in the words of the configuration.
func (c *Config) checkListen() error {
	sc := site.Config{Root: c.Root, Auth: c.authRules(), AllowInsecureAuth: c.AllowInsecureAuth}
	if err := sc.CheckListen(c.Listen(), false); err != nil {
		if !errors.Is(err, site.ErrInsecureAuth) {
			return errors.New(strings.TrimPrefix(err.Error(), "weft: "))
		}
		return fmt.Errorf("basic authentication over plain HTTP on %s (addr, %s) would send passwords in clear: listen on loopback, or set allow_insecure_auth", c.Listen(), c.Source("addr"))
	}
	return nil
}

// authKey is the key that asks for authentication, for errors.
func (c *Config) authKey() string {
	if c.BasicAuth != "" {
		return "basic_auth"
	}
	return "auth"
}
