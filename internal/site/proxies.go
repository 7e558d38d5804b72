package site

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/weft-server/weft/internal/http1"
)

// Trusted proxies (Config.TrustedProxies): when the peer of a connection
// is one of them, the client is read from the one forwarding header
// Config.TrustedProxyHeader names: X-Forwarded-For (the default: what
// nginx, HAProxy, AWS ALB and Cloudflare append) or Forwarded (RFC 7239).
// The other header is never read, present or not: a proxy passes through
// the header it does not write, so the client could set it. Both are
// lists every proxy appends to, so they are read from the right: the first
// address that is not itself a trusted proxy is the client (anything to
// its left was written by the client and proves nothing); if every one is
// trusted, the leftmost. An element that is not an address ("unknown",
// an obfuscated name, garbage) stops the walk at the last trusted hop.
// A request from any other peer is taken as it comes: its headers are
// ignored. The client so found is what the access log records (through
// http1.Response.Client) and what the rate limit of failed logins counts.

func checkTrusted(ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("weft: trusted proxies: invalid prefix %v", p)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// The values of Config.TrustedProxyHeader.
const (
	ProxyHeaderXForwardedFor = "x-forwarded-for"
	ProxyHeaderForwarded     = "forwarded"
)

// checkProxyHeader normalizes Config.TrustedProxyHeader.
func checkProxyHeader(h string) (string, error) {
	switch strings.ToLower(h) {
	case "", ProxyHeaderXForwardedFor:
		return ProxyHeaderXForwardedFor, nil
	case ProxyHeaderForwarded:
		return ProxyHeaderForwarded, nil
	}
	return "", fmt.Errorf("weft: trusted proxy header %q: want %q or %q", h, ProxyHeaderXForwardedFor, ProxyHeaderForwarded)
}

func (s *Site) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// noteClient sets resp.Client to the client behind a trusted proxy, if
// any. It allocates nothing for a well-formed header.
func (s *Site) noteClient(req *http1.Request, resp *http1.Response) {
	if len(s.trusted) == 0 || !req.Remote.IsValid() || !s.trusts(req.Remote.Addr()) {
		return
	}
	if c := s.forwardedClient(req); c.IsValid() {
		resp.Client = c
	}
}

// client is the address failed logins are counted against.
func client(req *http1.Request, resp *http1.Response) netip.Addr {
	if resp.Client.IsValid() {
		return resp.Client
	}
	return req.Remote.Addr().Unmap()
}

// forwardedClient walks the forwarding header from the right (see above).
func (s *Site) forwardedClient(req *http1.Request) netip.Addr {
	name := s.proxyHdr
	forwarded := name == ProxyHeaderForwarded
	var last netip.Addr // the leftmost trusted hop seen so far
	for i := len(req.Headers) - 1; i >= 0; i-- {
		h := &req.Headers[i]
		if !http1.EqualFold(h.Name, name) {
			continue
		}
		for v := h.Value; len(v) > 0; {
			var elem []byte
			if j := bytes.LastIndexByte(v, ','); j >= 0 {
				elem, v = v[j+1:], v[:j]
			} else {
				elem, v = v, nil
			}
			if forwarded {
				elem = forwardedFor(elem)
			}
			a, ok := parseNode(bytes.TrimSpace(elem))
			if !ok {
				return last
			}
			if !s.trusts(a) {
				return a
			}
			last = a
		}
	}
	return last
}

// forwardedFor returns the value of the for= parameter of one element of
// a Forwarded field, quotes removed, or nil.
func forwardedFor(elem []byte) []byte {
	for len(elem) > 0 {
		var v []byte
		if v, elem = nextParam(elem, "for"); v != nil {
			return v
		}
	}
	return nil
}

// parseNode parses an address as proxies write them: "192.0.2.1",
// "192.0.2.1:4711", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711".
func parseNode(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || len(b) > 64 {
		return netip.Addr{}, false
	}
	if b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		b = b[1:end]
	} else if i := bytes.IndexByte(b, ':'); i >= 0 && bytes.IndexByte(b[i+1:], ':') < 0 {
		b = b[:i] // IPv4 with a port
	}
	a, err := netip.ParseAddr(b2s(b))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
