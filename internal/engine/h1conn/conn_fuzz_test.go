package h1conn_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// collect is a Sink that keeps everything written, file segments
// included. With room set, each call takes at most room() bytes and then
// reports ErrWouldBlock, like a socket with a small, full buffer.
type collect struct {
	b    []byte
	room func() int
}

func (c *collect) take(n int) (int, error) {
	if c.room == nil {
		return n, nil
	}
	if r := c.room(); r < n {
		return r, h1conn.ErrWouldBlock
	}
	return n, nil
}

func (c *collect) Writev(bufs [][]byte) (int64, error) {
	var n int
	for _, b := range bufs {
		n += len(b)
	}
	n, err := c.take(n)
	for left := n; left > 0; bufs = bufs[1:] {
		m := min(left, len(bufs[0]))
		c.b = append(c.b, bufs[0][:m]...)
		left -= m
	}
	return int64(n), err
}

func (c *collect) SendFile(f http1.File, off, n int64) (int64, error) {
	m, werr := c.take(int(n))
	buf := make([]byte, m)
	m, err := f.ReadAt(buf, off)
	c.b = append(c.b, buf[:m]...)
	if err != nil {
		return int64(m), err
	}
	return int64(m), werr
}

// FuzzConn drives the connection state machine shared by every engine
// with arbitrary input, delivered once in reads as large as the
// connection takes into a sink that takes everything, and once in reads
// of sizes the fuzzer picks into a sink that takes only so many bytes per
// write (a socket with a full buffer), from an uncached site through the
// hand-off to workers. Whatever the input, the two must
// produce the same bytes (the Date header aside): how TCP splits a stream
// and how fast the client reads must not change the answers. Along the
// way: no panic, and a connection that cannot take more input always has
// output to send or a close to show for it.
func FuzzConn(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\nHEAD /big.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /dir HTTP/1.0\r\n\r\n",
		"GET /big.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-9,100-199,-5\r\n\r\nGET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /index.html HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nHELLOGET /missing HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /index.html HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /big.txt HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /index.html HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\nGET /big.txt HTTP/1.1\r\nHost: a\r\nIf-Range: \"x\"\r\nRange: bytes=1-\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.1\nHost: a\n\n",
		"GET /" + string(bytes.Repeat([]byte("a"), 600)) + " HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: " + string(bytes.Repeat([]byte("b"), 1200)) + "\r\n\r\n",
	} {
		f.Add([]byte(seed), []byte{0, 1, 2, 7, 3, 200})
	}
	root := f.TempDir()
	for name, size := range map[string]int{"index.html": 1 << 10, "big.txt": 40 << 10, "dir/index.html": 10} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{'a' + byte(size%26)}, size), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	// The whole reads go to a cached site answered in line; the split
	// ones to an uncached site whose every answer is handed off and
	// resumed, as the epoll engine does with disk work.
	var cfgs [2]*h1conn.Config
	for i, cache := range []site.CacheConfig{{Validity: time.Hour, NoWatch: true}, {MaxBytes: -1}} {
		// No variants compressed on the fly: only the cached site could
		// make them (and would say Vary where the other cannot).
		st, err := site.Open(site.Config{Root: root, Cache: cache, Compress: site.CompressConfig{Off: true}})
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { st.Close() })
		// Small limits keep the inputs that reach them small (414, 431, 413).
		cfgs[i] = h1conn.Config{Handler: st, MaxBodyBytes: 100,
			Limits: http1.Limits{MaxURI: 512, MaxHeadBytes: 1024, MaxHeaderCount: 10}}.WithDefaults()
	}
	f.Fuzz(func(t *testing.T, data, splits []byte) {
		whole := feed(t, cfgs[0], data, nil)
		split := feed(t, cfgs[1], data, splits)
		if len(whole) > 0 && !bytes.HasPrefix(whole, []byte("HTTP/1.1 ")) {
			t.Fatalf("output does not start with a status line: %q", whole[:min(len(whole), 80)])
		}
		if w, s := dateField.ReplaceAll(whole, nil), dateField.ReplaceAll(split, nil); !bytes.Equal(w, s) {
			t.Fatalf("answers depend on how the input was split\nwhole: %q\nsplit: %q", clip(w), clip(s))
		}
	})
}

var dateField = regexp.MustCompile("Date: [^\r]*\r\n")

func clip(b []byte) []byte { return b[:min(len(b), 600)] }

// feed runs a connection over data and returns everything it wrote. With
// splits, reads and writes take sizes cycling through splits (each byte
// plus one; writes sixteen times that); without, they take all they can.
func feed(t *testing.T, cfg *h1conn.Config, data, splits []byte) []byte {
	now := time.Unix(1_800_000_000, 0)
	c := h1conn.New(cfg, netip.MustParseAddrPort("192.0.2.1:1234"), now)
	defer c.Release()
	out := &collect{}
	i := 0
	next := func() int { i++; return int(splits[i%len(splits)]) + 1 }
	if len(splits) > 0 {
		out.room = func() int { return 16 * next() }
		c.SetAsync(true)
	}
	for !c.Done() && !c.Lingering() {
		if len(data) > 0 {
			space := c.ReadSpace()
			if len(space) == 0 && !c.Pending() {
				t.Fatalf("the connection takes no more input and has nothing to send (%d bytes left)", len(data))
			}
			n := len(space)
			if len(splits) > 0 {
				n = min(n, next())
			}
			n = copy(space, data[:min(n, len(data))])
			data = data[n:]
			c.Received(n, now)
		}
		c.Process(now)
		for c.Offloaded() {
			c.ServeOffloaded() // on a worker, in the epoll engine
			c.Resume(now)
		}
		if err := c.Flush(out, now); err != nil && err != h1conn.ErrWouldBlock {
			t.Fatal(err)
		}
		if len(data) == 0 && !c.Pending() && !c.Stalled() {
			break
		}
	}
	return out.b
}
