//go:build !race

package h1conn_test

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/metrics"
	"github.com/weft-server/weft/internal/site"
)

// discard is a Sink that accepts everything.
type discard struct{ n int64 }

func (d *discard) Writev(bufs [][]byte) (int64, error) {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	d.n += n
	return n, nil
}

func (d *discard) SendFile(f http1.File, off, n int64) (int64, error) { d.n += n; return n, nil }

func newSite(t testing.TB) *site.Site { return newSiteWith(t, site.Config{}) }

// withRules is a site with every rule that may touch a cached GET on:
// the security preset, header rules and Cache-Control rules (folded into
// the entry), CORS with listed origins, redirects, clean URLs and
// authentication that do not match the path (checked on every request),
// and trusted proxies (the client read from X-Forwarded-For).
func withRules(t testing.TB) site.Config {
	return site.Config{
		Security: true,
		Headers: []site.HeaderRule{
			{For: "/**", Set: map[string]string{"X-Served-By": "weft"}, Add: map[string]string{"Link": "</style.css>; rel=preload"}},
			{For: "*.html", Remove: []string{"X-Frame-Options"}},
		},
		CacheControl:   []site.CacheRule{{Glob: "*.html", Value: "public, max-age=60"}},
		CORS:           &site.CORS{Origins: []string{"https://app.example"}, Credentials: true, Expose: []string{"ETag"}},
		Redirects:      []site.Redirect{{From: "/old/**", To: "/new/:splat"}, {From: "*.php", To: "/", Status: 302}},
		Auth:           []site.AuthRule{{Prefix: "/admin", Htpasswd: htpasswd(t)}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}
}

// htpasswd writes a file of one user (password "secret", bcrypt).
func htpasswd(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "htpasswd")
	line := "alice:$2a$04$5gKRPGt5fQIwNzW/QPpdxeOsRe7cLL5DHAL5LpyOLlLEvkGkc2eZ6\n"
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newSiteWith(t testing.TB, cfg site.Config) *site.Site {
	dir := t.TempDir()
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Root, cfg.Cache.Validity = dir, time.Hour
	st, err := site.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// roundTrip feeds one request to c and flushes the answer.
func roundTrip(tb testing.TB, c *h1conn.Conn, s h1conn.Sink, req []byte) {
	n := copy(c.ReadSpace(), req)
	now := time.Now()
	c.Received(n, now)
	c.Process(now)
	if err := c.Flush(s, now); err != nil {
		tb.Fatal(err)
	}
}

var cachedGET = []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")

// TestCachedGETAllocatesNothing: parse → handle → encode → write of a
// cached small file allocates nothing once the connection is warm.
func TestCachedGETAllocatesNothing(t *testing.T) {
	cfg := h1conn.Config{Handler: newSite(t)}.WithDefaults()
	c := h1conn.New(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
	s := &discard{}
	roundTrip(t, c, s, cachedGET) // warm: fills the cache and the buffers
	if s.n == 0 {
		t.Fatal("no response written")
	}
	if a := testing.AllocsPerRun(1000, func() { roundTrip(t, c, s, cachedGET) }); a != 0 {
		t.Fatalf("%v allocations per cached GET, want 0", a)
	}
}

var (
	cachedGETForwarded = []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n\r\n")
	cachedGETOrigin    = []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nOrigin: https://app.example\r\n\r\n")
)

// TestCachedGETWithRulesAllocatesNothing: the rules of a site cost a
// cached GET no allocation: per-path headers and Cache-Control are in
// the pre-rendered head, the path rules are matched in stack space, the
// forwarded client is parsed in place, and CORS lines for an allowed
// Origin go into the response's reused header buffer.
func TestCachedGETWithRulesAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  []byte
		want string
	}{
		{"Plain", cachedGET, "\r\nX-Served-By: weft\r\n"},
		{"Forwarded", cachedGETForwarded, "\r\nCache-Control: public, max-age=60\r\n"},
		{"Origin", cachedGETOrigin, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := h1conn.Config{Handler: newSiteWith(t, withRules(t))}.WithDefaults()
			c := h1conn.New(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
			out := &capture{}
			roundTrip(t, c, out, tc.req) // warm
			roundTrip(t, c, out, tc.req) // from memory
			if !bytes.HasPrefix(out.b, []byte("HTTP/1.1 200 ")) || !bytes.Contains(out.b, []byte(tc.want)) || !bytes.Contains(out.b, []byte("\r\nVary: Accept-Encoding, Origin\r\n")) {
				t.Fatalf("answer lacks %q or Vary: Origin:\n%s", tc.want, out.b)
			}
			s := &discard{}
			if a := testing.AllocsPerRun(1000, func() { roundTrip(t, c, s, tc.req) }); a != 0 {
				t.Fatalf("%v allocations per cached GET with rules on, want 0", a)
			}
		})
	}
}

// benchRequest measures one request through a warm connection: parse,
// handle (the file is cached), encode, write to a discarding sink.
func benchRequest(b *testing.B, req []byte) { benchRequestWith(b, req, nil) }

// benchRequestWith is benchRequest counting for metrics on counters
// (none when nil).
func benchRequestWith(b *testing.B, req []byte, counters *metrics.Counters) {
	cfg := h1conn.Config{Handler: newSite(b)}
	if counters != nil {
		cfg.Meters = func(loop int) h1conn.Meter { return counters.Shard(loop) }
	}
	cfg = *cfg.WithDefaults()
	c := h1conn.NewOnLoop(&cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now(), 0)
	s := &discard{}
	roundTrip(b, c, s, cachedGET) // fills the cache and the buffers
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		roundTrip(b, c, s, req)
	}
}

func BenchmarkCachedGET(b *testing.B) { benchRequest(b, cachedGET) }

// BenchmarkCachedGETMetrics is BenchmarkCachedGET counting for metrics,
// as --admin does: its twin for the cost of counting.
func BenchmarkCachedGETMetrics(b *testing.B) { benchRequestWith(b, cachedGET, metrics.New()) }

// TestCachedGETWithMetricsAllocatesNothing: counting a request, its
// connection's idle spells and its bytes allocates nothing.
func TestCachedGETWithMetricsAllocatesNothing(t *testing.T) {
	counters := metrics.New()
	cfg := h1conn.Config{Handler: newSite(t), Meters: func(loop int) h1conn.Meter { return counters.Shard(loop) }}.WithDefaults()
	c := h1conn.NewOnLoop(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now(), 0)
	s := &discard{}
	roundTrip(t, c, s, cachedGET)
	if a := testing.AllocsPerRun(1000, func() { roundTrip(t, c, s, cachedGET) }); a != 0 {
		t.Fatalf("%v allocations per cached GET with metrics on, want 0", a)
	}
	sn := counters.Snapshot()
	if got := sn.Requests[1][0][1]; got != 1002 { // warm-up, AllocsPerRun's own first run, 1000
		t.Errorf("%d GETs counted, want 1002", got)
	}
	if sn.Opened != 1 || sn.Open() != 1 || sn.Idle != 1 {
		t.Errorf("accepted %d, open %d, idle %d; want 1, 1, 1", sn.Opened, sn.Open(), sn.Idle)
	}
	c.Release()
	if sn := counters.Snapshot(); sn.Open() != 0 || sn.Idle != 0 {
		t.Errorf("released: open %d, idle %d; want 0, 0", sn.Open(), sn.Idle)
	}
}

// TestCachedGETWithAccessLogAllocatesNothing: logging a request, in a
// named format or a template that reads any request field (which the
// connection then copies with the request's other bytes until the answer
// is sent), allocates nothing.
func TestCachedGETWithAccessLogAllocatesNothing(t *testing.T) {
	for _, format := range []string{"combined", "json", `$remote_addr $remote_user [$time_iso8601] "$request" $status $body_bytes_sent $bytes_sent $request_time "$http_user_agent" $http_accept $host`} {
		f, err := accesslog.ParseFormat(format)
		if err != nil {
			t.Fatal(err)
		}
		log := accesslog.New(io.Discard, f, time.Hour, nil)
		cfg := h1conn.Config{Handler: newSite(t), Log: log}.WithDefaults()
		c := h1conn.New(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
		s := &discard{}
		roundTrip(t, c, s, cachedGET)
		if a := testing.AllocsPerRun(1000, func() { roundTrip(t, c, s, cachedGET) }); a != 0 {
			t.Errorf("%s: %v allocations per cached GET with an access log, want 0", format, a)
		}
		c.Release()
		log.Close()
	}
}

// BenchmarkCachedGETAccessLog is BenchmarkCachedGET with a combined access
// log (to io.Discard): its twin for the cost of logging.
func BenchmarkCachedGETAccessLog(b *testing.B) {
	log := accesslog.New(io.Discard, accesslog.Combined, time.Hour, nil)
	defer log.Close()
	cfg := h1conn.Config{Handler: newSite(b), Log: log}.WithDefaults()
	c := h1conn.New(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
	s := &discard{}
	roundTrip(b, c, s, cachedGET)
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, c, s, cachedGET)
	}
}

// BenchmarkCachedGETWithRules is BenchmarkCachedGET on a site with every
// rule that touches a cached GET on (see withRules), from an allowed
// Origin behind a trusted proxy.
func BenchmarkCachedGETWithRules(b *testing.B) {
	req := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nOrigin: https://app.example\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n")
	cfg := h1conn.Config{Handler: newSiteWith(b, withRules(b))}.WithDefaults()
	c := h1conn.New(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
	s := &discard{}
	roundTrip(b, c, s, req)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		roundTrip(b, c, s, req)
	}
}

func BenchmarkConditional304(b *testing.B) {
	benchRequest(b, []byte("GET /index.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n"))
}

func BenchmarkRange(b *testing.B) {
	benchRequest(b, []byte("GET /index.html HTTP/1.1\r\nHost: x\r\nRange: bytes=100-199\r\n\r\n"))
}

func BenchmarkMultipartRange(b *testing.B) {
	benchRequest(b, []byte("GET /index.html HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,100-199,-5\r\n\r\n"))
}

var compressedGET = []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n")

// capture is a Sink that keeps what it was given last.
type capture struct{ b []byte }

func (c *capture) Writev(bufs [][]byte) (int64, error) {
	c.b = c.b[:0]
	for _, b := range bufs {
		c.b = append(c.b, b...)
	}
	return int64(len(c.b)), nil
}

func (c *capture) SendFile(f http1.File, off, n int64) (int64, error) { return n, nil }

// warmCompressed sends compressed GETs on c until the answer is the br
// variant: the first ones start its build off the connection and get
// identity meanwhile.
func warmCompressed(tb testing.TB, c *h1conn.Conn) {
	out := &capture{}
	for i := 0; !bytes.Contains(out.b, []byte("\r\nContent-Encoding: br\r\n")); i++ {
		if i == 500 {
			tb.Fatalf("no br variant after %d requests: %q", i, out.b)
		}
		time.Sleep(5 * time.Millisecond)
		roundTrip(tb, c, out, compressedGET)
	}
}

// TestCachedCompressedGETAllocatesNothing: once its variant is built, a
// cached file sent compressed costs what it costs plain.
func TestCachedCompressedGETAllocatesNothing(t *testing.T) {
	cfg := h1conn.Config{Handler: newSite(t)}.WithDefaults()
	c := h1conn.New(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
	warmCompressed(t, c)
	s := &discard{}
	if a := testing.AllocsPerRun(1000, func() { roundTrip(t, c, s, compressedGET) }); a != 0 {
		t.Fatalf("%v allocations per cached compressed GET, want 0", a)
	}
}

func BenchmarkCachedCompressedGET(b *testing.B) {
	cfg := h1conn.Config{Handler: newSite(b)}.WithDefaults()
	c := h1conn.New(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
	warmCompressed(b, c)
	s := &discard{}
	b.ReportAllocs()
	b.SetBytes(int64(len(compressedGET)))
	for b.Loop() {
		roundTrip(b, c, s, compressedGET)
	}
}

// TestCachedGETOverS3AllocatesNothing: a small object of an s3:// root,
// once cached, is answered by the same path as a file: no allocation
// (the version check is one atomic load).
func TestCachedGETOverS3AllocatesNothing(t *testing.T) {
	s3 := conformance.StartS3(t)
	s3.MakeBucket(t, "alloc")
	s3.Put(t, "alloc", "site/index.html", bytes.Repeat([]byte("a"), 1024))
	st, err := site.Open(site.Config{Root: "s3://alloc/site", Origin: s3.Origin(), Cache: site.CacheConfig{Validity: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := h1conn.Config{Handler: st}.WithDefaults()
	c := h1conn.New(cfg, netip.MustParseAddrPort("127.0.0.1:1"), time.Now())
	out := &capture{}
	roundTrip(t, c, out, cachedGET) // warm: the object read into the cache
	if !bytes.HasPrefix(out.b, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(out.b, bytes.Repeat([]byte("a"), 1024)) {
		t.Fatalf("answer:\n%s", out.b)
	}
	s := &discard{}
	if a := testing.AllocsPerRun(1000, func() { roundTrip(t, c, s, cachedGET) }); a != 0 {
		t.Fatalf("%v allocations per cached GET over s3://, want 0", a)
	}
}
