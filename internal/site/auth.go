package site

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/weft-server/weft/internal/http1"
)

// AuthRule protects the paths beneath Prefix with HTTP basic
// authentication (RFC 7617) against the users of an htpasswd file. The
// rule with the longest matching prefix wins, so a rule for "/" with a
// rule for "/public" whose Htpasswd is empty protects all but /public.
//
// Only bcrypt hashes are accepted (htpasswd -B): Open refuses a file with
// a plaintext, {SHA}, MD5 ($apr1$, $1$), SHA-crypt ($5$, $6$) or crypt(3)
// DES line, naming its file and line. A request without valid credentials
// gets 401 with "WWW-Authenticate: Basic realm=...": the same status,
// headers and body whether the credentials were missing, the user unknown
// or the password wrong, and, as a wrong password and an unknown user
// both cost one bcrypt comparison, in the same time. Failed logins are
// counted per client address (an IPv6 client per /64): past
// Config.AuthFailures in a minute, the client gets 429 without a password
// being checked. Credentials that passed are remembered (by a SHA-256 of
// user and password, never the password) so a browser sending them with
// every request does not pay bcrypt each time.
//
// Paths are matched decoded and cleaned, so "/adm%69n" and "//admin" are
// "/admin"; on a case-insensitive file system "/ADMIN" is not, so protect
// such a tree whole. A request under a protected prefix never comes from
// the in-memory path, and bcrypt runs off the event loops.
type AuthRule struct {
	Prefix   string `toml:"prefix"`   // "/admin" (the same as "/admin/"): that path and everything beneath; "/" for the whole site
	Htpasswd string `toml:"htpasswd"` // the htpasswd file; empty exempts the prefix from a shorter rule
	Realm    string `toml:"realm"`    // the realm browsers show; "weft" when empty
}

// DefaultAuthFailures is the failed logins a client may make per minute
// when Config.AuthFailures is zero.
const DefaultAuthFailures = 10

// authRules is the compiled authentication of a site.
type authRules struct {
	zones []authZone // longest prefix first

	limit  int // failures per window; 0 for no limit
	window time.Duration
	mu     sync.Mutex
	fails  map[netip.Addr]*failures
}

type authZone struct {
	prefix    string // without a trailing slash; "" for the whole site
	users     *htpasswd
	challenge string // the WWW-Authenticate value
}

type failures struct {
	n     int
	since time.Time
}

// maxTracked bounds the clients whose failures are counted at once.
const maxTracked = 1 << 16

func compileAuth(rules []AuthRule, limit int) (*authRules, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	a := &authRules{limit: limit, window: time.Minute, fails: make(map[netip.Addr]*failures)}
	switch {
	case limit == 0:
		a.limit = DefaultAuthFailures
	case limit < 0:
		a.limit = 0
	}
	files := map[string]*htpasswd{}
	seen := map[string]bool{}
	for _, r := range rules {
		if !strings.HasPrefix(r.Prefix, "/") || strings.Contains(r.Prefix, "//") || strings.ContainsAny(r.Prefix, "\x00\r\n\\%?#") {
			return nil, fmt.Errorf("weft: auth prefix %q: want a path from the root (decoded, no \"//\")", r.Prefix)
		}
		for _, seg := range strings.Split(r.Prefix, "/") {
			if seg == "." || seg == ".." {
				return nil, fmt.Errorf("weft: auth prefix %q: no \".\" or \"..\" segments", r.Prefix)
			}
		}
		z := authZone{prefix: strings.TrimSuffix(r.Prefix, "/")}
		if seen[z.prefix] {
			return nil, fmt.Errorf("weft: auth prefix %q: given twice", r.Prefix)
		}
		seen[z.prefix] = true
		realm := r.Realm
		if realm == "" {
			realm = "weft"
		}
		if strings.ContainsAny(realm, "\"\\") || strings.IndexFunc(realm, func(c rune) bool { return c < ' ' || c == 0x7f }) >= 0 {
			return nil, fmt.Errorf("weft: auth realm %q: no quotes, backslashes or control characters", realm)
		}
		z.challenge = `Basic realm="` + realm + `", charset="UTF-8"`
		if r.Htpasswd != "" {
			h := files[r.Htpasswd]
			if h == nil {
				var err error
				if h, err = loadHtpasswd(r.Htpasswd); err != nil {
					return nil, err
				}
				files[r.Htpasswd] = h
			}
			z.users = h
		}
		a.zones = append(a.zones, z)
	}
	sort.SliceStable(a.zones, func(i, j int) bool { return len(a.zones[i].prefix) > len(a.zones[j].prefix) })
	return a, nil
}

// zone returns the rule for the path p, or nil.
func (a *authRules) zone(p string) *authZone {
	for i := range a.zones {
		z := &a.zones[i]
		if z.prefix == "" || strings.HasPrefix(p, z.prefix) && (len(p) == len(z.prefix) || p[len(z.prefix)] == '/') {
			return z
		}
	}
	return nil
}

// covers reports whether the path p needs credentials.
func (a *authRules) covers(p string) bool {
	z := a.zone(p)
	return z != nil && z.users != nil
}

// coversJoined reports whether the path a+b needs credentials. It
// allocates nothing; a path too long for its buffer is taken as covered.
func (a *authRules) coversJoined(x, y string) bool {
	var space [2 * memoryPathMax]byte
	if len(x)+len(y) > len(space) {
		return true
	}
	b := append(append(space[:0], x...), y...)
	return a.covers(b2s(b))
}

// authorizeServed reports whether the request, authorized for the path
// authed, may be answered with the file at the path served; if not, it has
// planned the 401 (or 429). A file in the zone of authed needs no second
// check (nor counts a second failure).
func (s *Site) authorizeServed(req *http1.Request, resp *http1.Response, authed, served string) bool {
	if s.auth == nil || s.auth.zone(served) == s.auth.zone(authed) {
		return true
	}
	return s.authorize(req, resp, served)
}

// authorize reports whether the request for the path p may go on; if
// not, it has planned the 401 (or 429) to answer with.
func (s *Site) authorize(req *http1.Request, resp *http1.Response, p string) bool {
	if s.auth == nil {
		return true
	}
	z := s.auth.zone(p)
	if z == nil || z.users == nil {
		return true
	}
	who := clientKey(client(req, resp))
	if wait := s.auth.blocked(who, time.Now()); wait > 0 {
		s.errorPage(req, resp, 429)
		resp.AddHeaderInt("Retry-After", int64((wait+time.Second-1)/time.Second))
		return false
	}
	user, pass, ok := basicCredentials(lookupHeader(req, "authorization"))
	if ok {
		if z.users.check(user, pass) {
			return true
		}
		s.auth.failed(who, time.Now())
	}
	s.errorPage(req, resp, 401)
	resp.AddHeader("WWW-Authenticate", z.challenge)
	return false
}

// clientKey is what failures are counted under: the address, or for
// IPv6 its /64, which one subscriber usually has whole.
func clientKey(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// blocked returns how long the client who must still wait, or 0.
func (a *authRules) blocked(who netip.Addr, now time.Time) time.Duration {
	if a.limit == 0 {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.fails[who]
	if f == nil {
		return 0
	}
	if end := f.since.Add(a.window); now.Before(end) {
		if f.n >= a.limit {
			return end.Sub(now)
		}
		return 0
	}
	delete(a.fails, who)
	return 0
}

// failed counts a failed login of who.
func (a *authRules) failed(who netip.Addr, now time.Time) {
	if a.limit == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.fails[who]
	if f != nil && now.Sub(f.since) >= a.window {
		f = nil
	}
	if f == nil {
		if len(a.fails) >= maxTracked {
			for k, v := range a.fails {
				if now.Sub(v.since) >= a.window {
					delete(a.fails, k)
				}
			}
			if len(a.fails) >= maxTracked {
				return // the table is full of live counts: the newcomer goes uncounted
			}
		}
		f = &failures{since: now}
		a.fails[who] = f
	}
	f.n++
}

// basicCredentials decodes the value of an Authorization field with the
// Basic scheme.
func basicCredentials(h []byte) (user, pass string, ok bool) {
	const scheme = "basic "
	if len(h) < len(scheme) || !http1.EqualFold(h[:len(scheme)], scheme) {
		return "", "", false
	}
	enc := bytes.TrimSpace(h[len(scheme):])
	if len(enc) > 1024 {
		return "", "", false
	}
	dec := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(dec, enc)
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(dec[:n]), ":")
	if !ok {
		return "", "", false
	}
	return user, pass, true
}

// htpasswd is the users of one htpasswd file and their bcrypt hashes.
type htpasswd struct {
	users map[string][]byte
	dummy []byte // compared against for a user who does not exist

	mu     sync.Mutex
	passed map[[32]byte][]byte // SHA-256 of user and password → the hash they matched
}

// maxPassed bounds the credentials remembered per file.
const maxPassed = 1024

// hashKind names a hash that is not bcrypt, by its look.
func hashKind(h string) string {
	switch {
	case strings.HasPrefix(h, "{SHA}"):
		return "a SHA-1 ({SHA}) hash"
	case strings.HasPrefix(h, "$apr1$"):
		return "an Apache MD5 ($apr1$) hash"
	case strings.HasPrefix(h, "$1$"):
		return "an MD5-crypt ($1$) hash"
	case strings.HasPrefix(h, "$5$"), strings.HasPrefix(h, "$6$"):
		return "a SHA-crypt (" + h[:3] + ") hash"
	case strings.HasPrefix(h, "$y$"), strings.HasPrefix(h, "$7$"):
		return "a yescrypt or scrypt hash"
	case len(h) == 13 && strings.Trim(h, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == "":
		return "a crypt(3) DES hash (or a 13-character plaintext password)"
	}
	return "a plaintext password or an unknown hash"
}

// loadHtpasswd reads an htpasswd file: "user:hash" lines, "#" comments and
// blank lines.
func loadHtpasswd(file string) (*htpasswd, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("weft: htpasswd: %w", err)
	}
	h, err := parseHtpasswd(file, data)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// parseHtpasswd parses the content of the htpasswd file named file.
func parseHtpasswd(file string, data []byte) (*htpasswd, error) {
	h := &htpasswd{users: make(map[string][]byte), passed: make(map[[32]byte][]byte)}
	costs := map[int]int{}
	var modal []byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<10)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		switch {
		case !ok || user == "":
			return nil, fmt.Errorf("weft: htpasswd %s:%d: want user:hash", file, line)
		case strings.ContainsAny(user, " \t"):
			return nil, fmt.Errorf("weft: htpasswd %s:%d: user %q: spaces in a user name", file, line, user)
		case h.users[user] != nil:
			return nil, fmt.Errorf("weft: htpasswd %s:%d: user %q given twice", file, line, user)
		case !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$"):
			return nil, fmt.Errorf("weft: htpasswd %s:%d: user %q has %s: only bcrypt is accepted (htpasswd -B)", file, line, user, hashKind(hash))
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, fmt.Errorf("weft: htpasswd %s:%d: user %q: malformed bcrypt hash", file, line, user)
		}
		h.users[user] = []byte(hash)
		if costs[cost]++; modal == nil || costs[cost] > costs[mustCost(modal)] {
			modal = h.users[user]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("weft: htpasswd %s: %w", file, err)
	}
	// A user who does not exist costs one comparison with a hash of the
	// most common cost: a real user's (the password cannot match both
	// ways: the result is thrown away), or, for a file with none, a new one.
	h.dummy = modal
	if h.dummy == nil {
		var err error
		if h.dummy, err = bcrypt.GenerateFromPassword([]byte("weft: no such user"), bcrypt.DefaultCost); err != nil {
			return nil, fmt.Errorf("weft: htpasswd %s: %w", file, err)
		}
	}
	return h, nil
}

func mustCost(hash []byte) int {
	c, _ := bcrypt.Cost(hash)
	return c
}

// check reports whether pass is user's password.
func (h *htpasswd) check(user, pass string) bool {
	sum := sha256.Sum256([]byte(strconv.Quote(user) + ":" + pass))
	hash, known := h.users[user]
	h.mu.Lock()
	prev := h.passed[sum]
	h.mu.Unlock()
	if known && prev != nil && bytes.Equal(prev, hash) {
		return true
	}
	if !known {
		bcrypt.CompareHashAndPassword(h.dummy, []byte(pass))
		return false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false
	}
	h.mu.Lock()
	if len(h.passed) >= maxPassed {
		clear(h.passed)
	}
	h.passed[sum] = hash
	h.mu.Unlock()
	return true
}

// CheckListen reports whether the site may be served on the listen
// address addr ("host:port", as for net.Listen) with or without TLS: a
// site with authentication is refused on plain HTTP at an address other
// than loopback (passwords would cross the network in clear) unless
// AllowInsecureAuth is set. An empty host, 0.0.0.0 and :: listen
// everywhere; names other than localhost are not resolved and count as
// not loopback. The server calls it for each of a site's listeners: Open
// cannot, as a site does not know them.
//
// With uploads on, it also refuses a listen address other than loopback
// when the upload folder does not ask for credentials (see
// UploadConfig.AllowAnonymous), with TLS or without.
func (c *Config) CheckListen(addr string, tls bool) error {
	if err := c.checkUploadListen(addr); err != nil {
		return err
	}
	if tls || c.AllowInsecureAuth || !c.protects() {
		return nil
	}
	host, ok := listenHost(addr)
	if !ok {
		return fmt.Errorf("weft: listen address %q: want host:port", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s has basic authentication and would send passwords in clear to %s; serve it over TLS, on loopback, or allow it explicitly (AllowInsecureAuth)", ErrInsecureAuth, c.Root, addr)
}

// listenHost is the host of a listen address "host:port", "[v6]:port" or
// ":port" (without package net: the site core never touches sockets). A
// unix socket, "unix:/path", is "localhost": only this machine connects.
func listenHost(addr string) (string, bool) {
	if strings.HasPrefix(addr, "unix:") {
		return "localhost", true
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || strings.ContainsAny(addr[i+1:], "[]") {
		return "", false
	}
	host := addr[:i]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", false
		}
		return host[1 : len(host)-1], true
	}
	return host, !strings.ContainsAny(host, ":[]")
}

// ErrInsecureAuth is the error of CheckListen.
var ErrInsecureAuth = errors.New("weft: basic authentication over plain HTTP")

// protects reports whether some rule of c asks for credentials.
func (c *Config) protects() bool {
	for _, r := range c.Auth {
		if r.Htpasswd != "" {
			return true
		}
	}
	return false
}
