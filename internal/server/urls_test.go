package server

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// TestURLs: the banner's URLs for each kind of bind, from a made-up set
// of interfaces.
func TestURLs(t *testing.T) {
	lan := []iface{
		{name: "lo", up: true, loop: true, addrs: addrs("127.0.0.1", "::1")},
		{name: "eth0", up: true, addrs: addrs("192.168.1.20", "fe80::1", "2001:db8::20")},
		{name: "wlan0", up: false, addrs: addrs("10.0.0.9")},                   // down
		{name: "docker0", up: true, addrs: addrs("172.17.0.1", "169.254.3.4")}, // link-local v4 skipped
		{name: "eth1", up: true, addrs: addrs("192.168.1.20")},                 // the same address again
	}
	linkOnly := []iface{
		{name: "lo", up: true, loop: true, addrs: addrs("127.0.0.1", "::1")},
		{name: "eth0", up: true, addrs: addrs("fe80::1")},
	}
	loopOnly := []iface{{name: "lo", up: true, loop: true, addrs: addrs("127.0.0.1", "::1")}}
	cases := []struct {
		name   string
		addr   string
		scheme string
		ifs    []iface
		want   []string
		lan    string
	}{
		{"IPv4Wildcard", "0.0.0.0:8080", "http", lan,
			[]string{"http://localhost:8080/", "http://192.168.1.20:8080/", "http://172.17.0.1:8080/"}, "http://192.168.1.20:8080/"},
		{"IPv6Wildcard", "[::]:8080", "http", lan,
			[]string{"http://localhost:8080/", "http://192.168.1.20:8080/", "http://172.17.0.1:8080/", "http://[2001:db8::20]:8080/"}, "http://192.168.1.20:8080/"},
		{"HTTPS", "[::]:8443", "https", lan,
			[]string{"https://localhost:8443/", "https://192.168.1.20:8443/", "https://172.17.0.1:8443/", "https://[2001:db8::20]:8443/"}, "https://192.168.1.20:8443/"},
		{"LinkLocalOnlyWhenNothingElse", "[::]:80", "http", linkOnly,
			[]string{"http://localhost:80/", "http://[fe80::1%25eth0]:80/"}, "http://[fe80::1%25eth0]:80/"},
		{"LoopbackOnly", "0.0.0.0:8080", "http", loopOnly,
			[]string{"http://localhost:8080/"}, ""},
		{"SpecificLoopback", "127.0.0.1:8080", "http", lan,
			[]string{"http://127.0.0.1:8080/"}, ""},
		{"SpecificLAN", "192.168.1.20:9000", "http", lan,
			[]string{"http://192.168.1.20:9000/"}, "http://192.168.1.20:9000/"},
		{"SpecificIPv6", "[2001:db8::20]:9000", "https", lan,
			[]string{"https://[2001:db8::20]:9000/"}, "https://[2001:db8::20]:9000/"},
		{"IPv6Loopback", "[::1]:9000", "http", lan,
			[]string{"http://[::1]:9000/"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			got := urlsFor(a, tc.scheme, func() []iface { return tc.ifs })
			if !slices.Equal(got, tc.want) {
				t.Errorf("URLs\n got %q\nwant %q", got, tc.want)
			}
			lan, ok := LANURL(got)
			if lan != tc.lan || ok != (tc.lan != "") {
				t.Errorf("LANURL = %q, %v; want %q", lan, ok, tc.lan)
			}
		})
	}
}

// TestURLsHere: on this machine, a wildcard bind lists localhost first and
// every URL parses back to the port.
func TestURLsHere(t *testing.T) {
	urls := URLs(&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http")
	if len(urls) == 0 || urls[0] != "http://localhost:8080/" {
		t.Fatalf("URLs = %q, want localhost first", urls)
	}
	for _, u := range urls {
		if !strings.HasSuffix(u, ":8080/") {
			t.Errorf("%q: not on the port", u)
		}
	}
}

func TestBanner(t *testing.T) {
	var b bytes.Buffer
	printBanner(&b, "/srv", []string{"http://localhost:8080/", "http://192.168.1.20:8080/"}, "epoll")
	want := "weft: serving /srv at http://localhost:8080/ (engine epoll); Ctrl-C stops\n" +
		"weft: also at http://192.168.1.20:8080/\n"
	if b.String() != want {
		t.Errorf("banner\n%s\nwant\n%s", b.String(), want)
	}
}
