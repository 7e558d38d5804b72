package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// settingsValue is an HTTP2-Settings value (RFC 7540 §3.2.1) for s.
func settingsValue(s ...http2.Setting) string {
	b := make([]byte, 0, 6*len(s))
	for _, x := range s {
		b = binary.BigEndian.AppendUint16(b, uint16(x.ID))
		b = binary.BigEndian.AppendUint32(b, x.Val)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// someSettings is an HTTP2-Settings value as a client sends one.
var someSettings = settingsValue(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}, http2.Setting{ID: http2.SettingEnablePush, Val: 0})

// upgradeHead is the head of a GET of target asking for h2c, with extra
// fields; settings "" leaves HTTP2-Settings out.
func upgradeHead(target, settings string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n", target)
	if settings != "" {
		b.WriteString("HTTP2-Settings: " + settings + "\r\n")
	}
	for _, f := range extra {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// h2Reader reads a stream's answer off an HTTP/2 connection.
type h2Reader struct {
	t  *testing.T
	fr *http2.Framer
}

func newH2Reader(t *testing.T, r io.Reader, w io.Writer) *h2Reader {
	fr := http2.NewFramer(w, r)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	return &h2Reader{t: t, fr: fr}
}

// answer reads frames until stream id ends and returns its answer.
func (h *h2Reader) answer(id uint32) answer {
	h.t.Helper()
	a := answer{proto: "h2c upgrade", header: http.Header{}}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("stream %d: read frame: %v", id, err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID != id {
				h.t.Fatalf("HEADERS on stream %d, want %d", f.StreamID, id)
			}
			for _, hf := range f.Fields {
				switch hf.Name {
				case "connection", "keep-alive", "upgrade", "transfer-encoding":
					h.t.Errorf("stream %d: connection-specific field %s: %s in HTTP/2", id, hf.Name, hf.Value)
				}
				if hf.Name == ":status" {
					a.status, _ = strconv.Atoi(hf.Value)
				} else {
					k := http.CanonicalHeaderKey(hf.Name)
					a.header[k] = append(a.header[k], hf.Value)
				}
			}
			if f.StreamEnded() {
				return a
			}
		case *http2.DataFrame:
			if f.StreamID != id {
				h.t.Fatalf("DATA on stream %d, want %d", f.StreamID, id)
			}
			a.body = append(a.body, f.Data()...)
			if f.StreamEnded() {
				return a
			}
		case *http2.GoAwayFrame:
			h.t.Fatalf("GOAWAY %v waiting for stream %d", f.ErrCode, id)
		case *http2.RSTStreamFrame:
			h.t.Fatalf("RST_STREAM %v on stream %d", f.ErrCode, f.StreamID)
		}
	}
}

// upgrade sends head on a new connection to addr, checks the 101 and
// the server's SETTINGS that follow it, and returns the connection and a
// reader of its frames.
func upgrade(t *testing.T, addr, head string) (net.Conn, *h2Reader) {
	t.Helper()
	c := dialTCP(t, addr)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	a, err := readAnswer(br, true)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if a.status != 101 || a.header.Get("Upgrade") != "h2c" || a.header.Get("Connection") != "Upgrade" {
		t.Fatalf("upgrade: %d %v, want 101 with Connection: Upgrade, Upgrade: h2c", a.status, a.header)
	}
	h := newH2Reader(t, br, c)
	f, err := h.fr.ReadFrame()
	if err != nil {
		t.Fatalf("server preface: %v", err)
	}
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		t.Fatalf("first frame after the 101: %v, want SETTINGS", f.Header())
	}
	return c, h
}

// sendPreface sends the client preface (with an ack of the server's
// SETTINGS) and, with window > 0, a WINDOW_UPDATE for stream 1.
func sendPreface(t *testing.T, c net.Conn, h *h2Reader, window uint32) {
	t.Helper()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	if window > 0 {
		if err := h.fr.WriteWindowUpdate(1, window); err != nil {
			t.Fatal(err)
		}
	}
}

// get sends a GET of target on stream id.
func (h *h2Reader) get(id uint32, target string) {
	h.t.Helper()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "localhost"}, {":path", target}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		h.t.Fatal(err)
	}
}

// TestH2CUpgrade: on a plain listener with --h2c, a GET asking for h2c
// gets 101, the server's SETTINGS and its answer on stream 1, the same
// status, fields and body as over HTTP/1.1; after the client preface the
// connection serves HTTP/2 (stream 3). The settings of HTTP2-Settings are
// the client's: a stream window of 5 bytes holds stream 1's body to 5
// bytes until the client's WINDOW_UPDATE.
func TestH2CUpgrade(t *testing.T) {
	root := conformance.Tree(t)
	w := startWeft(t, server.Config{Site: site.Config{Root: root}, TLS: server.TLSConfig{H2C: true}})
	h1 := rawDo("HTTP/1.1", "localhost", func() (net.Conn, error) { return net.Dial("tcp", w.addr) })
	for _, target := range []string{"/hello.txt", "/missing", "/dir/"} {
		t.Run(target, func(t *testing.T) {
			c, h := upgrade(t, w.addr, upgradeHead(target, someSettings))
			got := h.answer(1)
			want := h1(t, rq{name: target, method: "GET", target: target})
			if d := diffAnswers(want, got); d != "" {
				t.Errorf("GET %s on stream 1 differs from HTTP/1.1:\n%s", target, d)
			}
			sendPreface(t, c, h, 0)
			h.get(3, "/missing")
			got = h.answer(3)
			want = h1(t, rq{name: "missing", method: "GET", target: "/missing"})
			if d := diffAnswers(want, got); d != "" {
				t.Errorf("GET /missing on stream 3 differs from HTTP/1.1:\n%s", d)
			}
		})
	}
	t.Run("empty settings", func(t *testing.T) {
		// An empty payload is a valid SETTINGS frame's: no setting.
		head := strings.Replace(upgradeHead("/hello.txt", someSettings), someSettings, "", 1)
		c, h := upgrade(t, w.addr, head)
		got := h.answer(1)
		if d := diffAnswers(h1(t, rq{name: "hello", method: "GET", target: "/hello.txt"}), got); d != "" {
			t.Errorf("GET /hello.txt on stream 1 differs from HTTP/1.1:\n%s", d)
		}
		sendPreface(t, c, h, 0)
		h.get(3, "/hello.txt")
		if a := h.answer(3); a.status != 200 {
			t.Errorf("stream 3: %d, want 200", a.status)
		}
	})
	t.Run("settings applied", func(t *testing.T) {
		const window = 5
		c, h := upgrade(t, w.addr, upgradeHead("/hello.txt", settingsValue(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window})))
		// Read stream 1 until the window is spent: not one byte more may
		// come before the client grants more.
		seen := 0
		for seen < window {
			f, err := h.fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if df, ok := f.(*http2.DataFrame); ok {
				seen += len(df.Data())
				if df.StreamEnded() {
					t.Fatalf("stream 1 ended after %d bytes within a window of %d", seen, window)
				}
			}
		}
		if seen != window {
			t.Fatalf("stream 1 sent %d bytes within a window of %d", seen, window)
		}
		sendPreface(t, c, h, 1<<20)
		rest := h.answer(1)
		want := h1(t, rq{name: "hello", method: "GET", target: "/hello.txt"})
		if got := seen + len(rest.body); got != len(want.body) {
			t.Errorf("stream 1 body: %d bytes, want %d", got, len(want.body))
		}
	})
}

// TestH2CUpgradeRefused: requests that may not switch are served over
// HTTP/1.1 as they are, and the connection goes on as HTTP/1.1: one with
// a body (not upgraded, as nginx and h2o do), one with a malformed, an
// invalid or two HTTP2-Settings fields, or none, an HTTP/1.0 one, and one
// whose Connection does not name HTTP2-Settings.
func TestH2CUpgradeRefused(t *testing.T) {
	root := conformance.Tree(t)
	w := startWeft(t, server.Config{Site: site.Config{Root: root}, TLS: server.TLSConfig{H2C: true}})
	good := someSettings
	cases := []struct {
		name, raw string
	}{
		{"body", strings.Replace(upgradeHead("/hello.txt", good, "Content-Length: 3"), "GET", "POST", 1) + "abc"},
		{"malformed settings", upgradeHead("/hello.txt", "!!not base64!!")},
		{"settings not whole", upgradeHead("/hello.txt", base64.RawURLEncoding.EncodeToString([]byte{0, 4, 0}))},
		{"invalid setting", upgradeHead("/hello.txt", settingsValue(http2.Setting{ID: http2.SettingEnablePush, Val: 2}))},
		{"two settings fields", upgradeHead("/hello.txt", good, "HTTP2-Settings: "+good)},
		{"no settings field", upgradeHead("/hello.txt", "")},
		{"HTTP/1.0", strings.Replace(upgradeHead("/hello.txt", good), "HTTP/1.1", "HTTP/1.0", 1)},
		{"connection without HTTP2-Settings", strings.Replace(upgradeHead("/hello.txt", good), "Upgrade, HTTP2-Settings", "Upgrade", 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plain := strings.NewReplacer("Connection: Upgrade, HTTP2-Settings\r\n", "", "Connection: Upgrade\r\n", "", "Upgrade: h2c\r\n", "").Replace(tc.raw)
			plain = regexpSettings(plain)
			want := rawExchange(t, dialTCP(t, w.addr), plain)
			c := dialTCP(t, w.addr)
			defer c.Close()
			c.SetDeadline(time.Now().Add(15 * time.Second))
			br := bufio.NewReader(c)
			// The request, then a second one on the same connection: both
			// HTTP/1.1.
			if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			got, err := readAnswer(br, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.status == 101 {
				t.Fatal("upgraded")
			}
			if d := diffAnswers(want, got); d != "" {
				t.Errorf("differs from the request without Upgrade:\n%s", d)
			}
			if strings.Contains(tc.raw, "HTTP/1.0") {
				return // the connection ends
			}
			if _, err := io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			if a, err := readAnswer(br, false); err != nil || a.status != 200 {
				t.Fatalf("second request: %d %v, want 200 over HTTP/1.1", a.status, err)
			}
		})
	}
}

// regexpSettings drops HTTP2-Settings lines from a raw request.
func regexpSettings(raw string) string {
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	var keep []string
	for _, l := range strings.Split(head, "\r\n") {
		if !strings.HasPrefix(l, "HTTP2-Settings:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\r\n") + "\r\n\r\n" + body
}

// TestH2CUpgradeNotOverTLS: over TLS the Upgrade: h2c of a request is
// ignored (RFC 9113 §3.1: h2c is cleartext only), even with --h2c set.
func TestH2CUpgradeNotOverTLS(t *testing.T) {
	certs := conformance.NewCerts(t)
	tcfg := tlsWith(certs)
	tcfg.H2C = true
	w := startWeft(t, server.Config{Site: site.Config{Root: conformance.Tree(t)}, TLS: tcfg})
	got := rawExchange(t, dialTLS(t, w.addr, certs), upgradeHead("/hello.txt", someSettings))
	want := rawExchange(t, dialTLS(t, w.addr, certs), "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if got.status != 200 {
		t.Fatalf("over TLS: %d, want 200 over HTTP/1.1", got.status)
	}
	if d := diffAnswers(want, got); d != "" {
		t.Errorf("over TLS, the upgrade request differs from a plain GET:\n%s", d)
	}
}

// TestH2CUpgradeOff: without --h2c, Upgrade: h2c is ignored.
func TestH2CUpgradeOff(t *testing.T) {
	w := startWeft(t, server.Config{Site: site.Config{Root: conformance.Tree(t)}})
	got := rawExchange(t, dialTCP(t, w.addr), upgradeHead("/hello.txt", someSettings))
	if got.status != 200 {
		t.Fatalf("without --h2c: %d, want 200 over HTTP/1.1", got.status)
	}
}

// TestH2CUpgradeCurl: curl --http2 on http:// (which asks by Upgrade)
// gets its answer over HTTP/2, the file's bytes.
func TestH2CUpgradeCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	root := conformance.Tree(t)
	w := startWeft(t, server.Config{Site: site.Config{Root: root}, TLS: server.TLSConfig{H2C: true}})
	want, err := os.ReadFile(filepath.Join(root, "hello.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "body")
	cmd := exec.Command(curl, "--http2", "-sS", "--max-time", "15", "-o", out, "-w", "%{http_version} %{http_code}",
		"http://"+w.addr+"/hello.txt")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, b)
	}
	if string(b) != "2 200" {
		t.Fatalf("curl: version and status %q, want \"2 200\"", b)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Errorf("curl: body %q, want %q", got, want)
	}
	// A POST is not upgraded: HTTP/1.1.
	cmd = exec.Command(curl, "--http2", "-sS", "--max-time", "15", "-o", "/dev/null", "-w", "%{http_version}",
		"--data", "abc", "http://"+w.addr+"/hello.txt")
	if b, err = cmd.CombinedOutput(); err != nil || string(b) != "1.1" {
		t.Fatalf("curl POST: %q %v, want version 1.1", b, err)
	}
}
