package server

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
)

// URLs lists the URLs a browser can open to reach a server listening on
// addr with scheme ("http" or "https"). For a specific address it is that
// address. For a wildcard one (0.0.0.0 or [::]) it is localhost first,
// then the IPv4 addresses of the interfaces that are up and running (the
// LAN's), then,
// when addr is [::], their global IPv6 ones; link-local addresses only
// when there is nothing else. Loopback-only interfaces give localhost
// alone.
func URLs(addr net.Addr, scheme string) []string {
	return urlsFor(addr, scheme, localInterfaces)
}

// iface is what urlsFor needs of a network interface.
type iface struct {
	name  string
	up    bool
	loop  bool
	addrs []netip.Addr
}

// localInterfaces lists this machine's interfaces and their addresses. An
// error leaves the list short: the banner then shows fewer URLs.
func localInterfaces() []iface {
	nis, err := net.Interfaces()
	if err != nil {
		return nil
	}
	out := make([]iface, 0, len(nis))
	for _, ni := range nis {
		// Up and running: a bridge with nothing plugged in (docker0
		// without containers) is up but not running.
		up := ni.Flags&net.FlagUp != 0 && ni.Flags&net.FlagRunning != 0
		f := iface{name: ni.Name, up: up, loop: ni.Flags&net.FlagLoopback != 0}
		addrs, _ := ni.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					f.addrs = append(f.addrs, ip.Unmap())
				}
			}
		}
		out = append(out, f)
	}
	return out
}

func urlsFor(addr net.Addr, scheme string, interfaces func() []iface) []string {
	if ua, ok := addr.(*net.UnixAddr); ok {
		return []string{"unix:" + ua.Name} // curl --unix-socket NAME http://localhost/
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return []string{scheme + "://" + addr.String() + "/"}
	}
	port := strconv.Itoa(ta.Port)
	mk := func(host string) string { return scheme + "://" + net.JoinHostPort(host, port) + "/" }
	if !ta.IP.IsUnspecified() {
		return []string{mk(ta.IP.String())}
	}
	// An IPv4 wildcard takes IPv4 only; [::] takes both (unless the
	// system sets IPV6_V6ONLY by default, rare enough to ignore here). Go
	// listens on --addr 0.0.0.0:PORT with a dual-stack socket, which
	// reports [::].
	v6 := ta.IP.To4() == nil
	var v4s, v6s, linkLocal []string
	seen := map[netip.Addr]bool{}
	for _, f := range interfaces() {
		if !f.up || f.loop {
			continue
		}
		for _, ip := range f.addrs {
			if seen[ip] || ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast() {
				continue
			}
			seen[ip] = true
			switch {
			case ip.Is4() && ip.IsLinkLocalUnicast():
				linkLocal = append(linkLocal, mk(ip.String()))
			case ip.Is4():
				v4s = append(v4s, mk(ip.String()))
			case !v6:
			case ip.IsLinkLocalUnicast():
				// A browser needs the zone, escaped in the URL (RFC 6874).
				linkLocal = append(linkLocal, scheme+"://["+ip.WithZone("").String()+"%25"+f.name+"]:"+port+"/")
			case ip.IsGlobalUnicast():
				v6s = append(v6s, mk(ip.String()))
			}
		}
	}
	urls := append([]string{mk("localhost")}, v4s...)
	urls = append(urls, v6s...)
	if len(urls) == 1 {
		urls = append(urls, linkLocal...)
	}
	return urls
}

// LANURL is the first of urls (as URLs gives them) that another machine
// can open: not localhost nor a loopback address. ok is false when there
// is none.
func LANURL(urls []string) (string, bool) {
	for _, u := range urls {
		if !loopbackURL(u) {
			return u, true
		}
	}
	return "", false
}

func loopbackURL(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := pu.Hostname()
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// printBanner writes the start-up banner: the first URL on the line tests
// and scripts read, then one line for each other URL.
func printBanner(w io.Writer, label string, urls []string, engine string) {
	fmt.Fprintf(w, "weft: serving %s at %s (engine %s); Ctrl-C stops\n", label, urls[0], engine)
	for _, u := range urls[1:] {
		fmt.Fprintf(w, "weft: also at %s\n", u)
	}
}
