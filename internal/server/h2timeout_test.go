package server_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// TestHTTP2WriteTimeout: --write-timeout reaches HTTP/2: a client that
// grants no flow-control window for it has its stream reset (at the
// HTTP/2 default of 30 s it would not be within the test's 10 s).
func TestHTTP2WriteTimeout(t *testing.T) {
	w := startWeft(t, server.Config{
		Site: site.Config{Root: conformance.Tree(t)}, TLS: server.TLSConfig{H2C: true},
		Limits: engine.Config{WriteTimeout: 200 * time.Millisecond},
	})
	c := dialTCP(t, w.addr)
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "localhost"}, {Name: ":path", Value: "/hello.txt"}} {
		enc.WriteField(f)
	}
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		case *http2.DataFrame:
			t.Fatalf("DATA with a window of 0")
		}
	}
}
