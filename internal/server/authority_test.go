package server_test

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// h2cStatus sends one GET with the given :authority over cleartext HTTP/2
// (prior knowledge) and returns the answer's :status, or "RST_STREAM".
func h2cStatus(t *testing.T, addr, authority string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", authority}, {":path", "/hello.txt"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf(":authority %q: %v", authority, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				return f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			return "RST_STREAM"
		case *http2.GoAwayFrame:
			return "GOAWAY"
		}
	}
}

// TestH2AuthorityAsHost: a request whose :authority HTTP/1.1 would refuse
// as a Host (400) is refused over HTTP/2 too, rather than served by the
// default site; a valid one is served alike.
func TestH2AuthorityAsHost(t *testing.T) {
	w := startWeft(t, server.Config{Site: site.Config{Root: conformance.Tree(t)}, TLS: server.TLSConfig{H2C: true}})
	for _, host := range []string{"localhost", "example.com:8080", "[::1]:80", "exa mple.com", `a"b`, "a<b>", "caf\xc3\xa9.example"} {
		want := rawExchange(t, dialTCP(t, w.addr), "GET /hello.txt HTTP/1.1\r\nHost: "+host+"\r\n\r\n").status
		got := h2cStatus(t, w.addr, host)
		if got != strconv.Itoa(want) && !(want == 400 && got == "RST_STREAM") {
			t.Errorf("Host %q: HTTP/1.1 %d, HTTP/2 :authority %s", host, want, got)
		}
	}
}
