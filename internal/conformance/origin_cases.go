package conformance

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/origin"
	"github.com/weft-server/weft/internal/site"
)

// storeProxy is a reverse proxy in front of the S3 server that records
// every request the server gets, and may hold GETs of objects for a
// while (to make concurrent misses overlap).
type storeProxy struct {
	Addr string
	hold atomic.Int64 // nanoseconds a GET of an object is held
	// gate, when set, holds GETs of keys with "/cold" in them until it
	// is closed; held counts them.
	gate  atomic.Pointer[chan struct{}]
	held  atomic.Int64
	mu    sync.Mutex
	calls []string // "METHOD PATH?QUERY"
}

func startStoreProxy(t testing.TB, s3 *S3) *storeProxy {
	t.Helper()
	target, _ := url.Parse("http://" + s3.Endpoint)
	p := &storeProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls = append(p.calls, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		p.mu.Unlock()
		if d := p.hold.Load(); d > 0 && r.Method == "GET" && r.URL.RawQuery == "" {
			time.Sleep(time.Duration(d))
		}
		if g := p.gate.Load(); g != nil && r.Method == "GET" && strings.Contains(r.URL.Path, "/cold") {
			p.held.Add(1)
			<-*g
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

// count is the number of requests recorded with method for path (any
// query).
func (p *storeProxy) count(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		if strings.HasPrefix(c, method+" "+path+"?") {
			n++
		}
	}
	return n
}

func (p *storeProxy) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// RunOriginCases checks what an s3:// root adds beyond the suite: deploy
// mode, version switches, outages, confinement, coalescing and the disk
// cache's bound, each against a real S3 server started for it.
func RunOriginCases(t *testing.T, start Starter) {
	t.Run("Deployed", func(t *testing.T) { originDeployed(t, start) })
	t.Run("Switch", func(t *testing.T) { originSwitch(t, start) })
	t.Run("Outage", func(t *testing.T) { originOutage(t, start, 0) })
	t.Run("OutageHeadPerName", func(t *testing.T) { originOutage(t, start, -1) })
	t.Run("StaleBound", func(t *testing.T) { originStaleBound(t, start) })
	t.Run("Confinement", func(t *testing.T) { originConfinement(t, start) })
	t.Run("ChangedObject", func(t *testing.T) { originChanged(t, start) })
	t.Run("Coalescing", func(t *testing.T) { originCoalescing(t, start) })
	t.Run("DiskBound", func(t *testing.T) { originDiskBound(t, start) })
	t.Run("HangingStore", func(t *testing.T) { originHangingStore(t, start) })
	t.Run("CacheDirUnusable", func(t *testing.T) { originCacheDirUnusable(t, start) })
	t.Run("SwitchMidBody", func(t *testing.T) { originSwitchMidBody(t, start) })
	t.Run("FolderTimes", func(t *testing.T) { originFolderTimes(t, start) })
	t.Run("OverBudget", func(t *testing.T) { originOverBudget(t, start) })
	t.Run("UnfitNames", func(t *testing.T) { originUnfitNames(t, start) })
	t.Run("SlowStore", func(t *testing.T) { originSlowStore(t, start) })
	t.Run("LargeFolder", func(t *testing.T) { originLargeFolder(t, start) })
	t.Run("HotStaysOnDisk", func(t *testing.T) { originHotStaysOnDisk(t, start) })
	t.Run("DiskHeld", func(t *testing.T) { originDiskHeld(t, start) })
	t.Run("EvictedWhileFetched", func(t *testing.T) { originEvictedWhileFetched(t, start) })
	t.Run("Uploads", func(t *testing.T) { originUploads(t) })
}

// hashTag is the entity-tag a deployed file of content body gets: the
// first 128 bits of its SHA-256, as --etag content gives.
func hashTag(body string) string {
	sum := sha256.Sum256([]byte(body))
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

func bigBody(n int, seed byte) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + (seed+byte(i%251))%26
	}
	return string(b)
}

func originDeployed(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "dep")
	big := bigBody(300<<10, 1)
	mod := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s3.Deploy(t, "dep", "site", VersionID(mod, "v1"), map[string]string{
		"index.html":     "<p>v1</p>\n",
		"docs/guide.txt": "guide v1\n",
		"big.bin":        big,
	}, mod)
	// A plain key beside the deploy is not served: the manifest is.
	s3.Put(t, "dep", "site/plain.txt", []byte("plain\n"))
	srv := start(t, Options{Site: site.Config{Root: "s3://dep/site", Origin: s3.Origin(), Listing: true, Dotfiles: true}})

	r := one(t, srv.Addr, get("/"))
	wantStatus(t, r, 200)
	if r.Body != "<p>v1</p>\n" {
		t.Fatalf("body %q", r.Body)
	}
	wantHeader(t, r, "ETag", hashTag("<p>v1</p>\n"))
	wantHeader(t, r, "Last-Modified", mod.Format(http.TimeFormat))
	wantStatus(t, one(t, srv.Addr, get("/", "If-None-Match: "+hashTag("<p>v1</p>\n"))), 304)

	r = one(t, srv.Addr, get("/big.bin"))
	wantStatus(t, r, 200)
	if r.Body != big {
		t.Fatalf("big.bin: %d bytes, not the object's", len(r.Body))
	}
	wantHeader(t, r, "ETag", hashTag(big))
	r = one(t, srv.Addr, get("/big.bin", "Range: bytes=100000-100009"))
	wantStatus(t, r, 206)
	if r.Body != big[100000:100010] {
		t.Fatalf("range: %q", r.Body)
	}
	r = one(t, srv.Addr, get("/docs/"))
	wantStatus(t, r, 200)
	if !strings.Contains(r.Body, "guide.txt") {
		t.Errorf("listing of /docs/ lacks guide.txt:\n%s", r.Body)
	}
	for _, p := range []string{"/.weft/current", "/.weft/versions/", "/.weft/", "/plain.txt", "/.weft/objects/" + fmt.Sprintf("%x", sha256.Sum256([]byte(big)))} {
		if r := one(t, srv.Addr, get(p)); r.Status != 404 {
			t.Errorf("%s: status %d, want 404 (the deploy itself and keys beside it are never served)\n%s", p, r.Status, r.Raw)
		}
	}
}

func originSwitch(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "swb")
	mod := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	page := func(v string) map[string]string {
		return map[string]string{"index.html": "<p>" + v + "</p>\n", "app.js": "var v = '" + v + "';\n"}
	}
	s3.Deploy(t, "swb", "", VersionID(mod, "v1"), page("v1"), mod)
	cfg := s3.Origin()
	srv := start(t, Options{Site: site.Config{Root: "s3://swb", Origin: cfg}})
	for _, p := range []string{"/", "/app.js"} {
		wantStatus(t, one(t, srv.Addr, get(p)), 200) // cached now
	}

	// Clients read both files in a loop while v2 is published: each
	// response is one version's, and once a client has seen v2 it never
	// sees v1 again.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	var seen2 atomic.Int64
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			new := false
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, p := range []string{"/", "/app.js"} {
					resps, _ := exchange(t, srv.Addr, get(p, "Connection: close"))
					if len(resps) != 1 || resps[0].Status != 200 {
						errs <- fmt.Sprintf("%s: %d responses %v", p, len(resps), resps)
						return
					}
					b := resps[0].Body
					v2 := strings.Contains(b, "v2")
					if !v2 && !strings.Contains(b, "v1") {
						errs <- p + ": body " + b
						return
					}
					if new && !v2 {
						errs <- p + ": v1 served after v2"
						return
					}
					if v2 {
						new = true
						seen2.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	published := time.Now()
	s3.Deploy(t, "swb", "", VersionID(mod.Add(time.Hour), "v2"), page("v2"), mod.Add(time.Hour))
	deadline := published.Add(cfg.Poll + 5*time.Second)
	for seen2.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if seen2.Load() == 0 {
		t.Fatalf("v2 not served %v after it was published (poll %v)", time.Since(published), cfg.Poll)
	}
	t.Logf("v2 served within %v of being published", time.Since(published))
	r := one(t, srv.Addr, get("/app.js"))
	if !strings.Contains(r.Body, "v2") {
		t.Errorf("after the switch: %q", r.Body)
	}
	wantHeader(t, r, "ETag", hashTag("var v = 'v2';\n"))

	// A rollback is a switch like any other.
	s3.Put(t, "swb", ".weft/current", []byte(VersionID(mod, "v1")+"\n"))
	waitBody(t, srv.Addr, "/", "<p>v1</p>\n", cfg.Poll+5*time.Second)
}

// waitBody waits until path answers 200 with body, failing after d.
func waitBody(t *testing.T, addr, path, body string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r := one(t, addr, get(path))
		if r.Status == 200 && r.Body == body {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %d body %q, want %q after %v", path, r.Status, r.Body, body, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// originOutage: the store stopped mid-run. listMax is the origin's
// ListMax: 0 learns names by listing their folder, -1 by a HEAD each.
func originOutage(t *testing.T, start Starter, listMax int) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "out")
	big := bigBody(200<<10, 2)
	s3.Put(t, "out", "w/small.txt", []byte("small\n"))
	s3.Put(t, "out", "w/big.bin", []byte(big))
	s3.Put(t, "out", "w/cold.txt", []byte("cold\n"))
	s3.Put(t, "out", "w/sub/deep.txt", []byte("deep\n"))
	cfg := s3.Origin()
	cfg.StaleMax = time.Minute
	cfg.ListMax = listMax
	srv := start(t, Options{Site: site.Config{Root: "s3://out/w", Origin: cfg}})
	wantStatus(t, one(t, srv.Addr, get("/small.txt")), 200)
	wantStatus(t, one(t, srv.Addr, get("/missing.txt")), 404)
	wantStatus(t, one(t, srv.Addr, get("/sub")), 301)
	wantStatus(t, one(t, srv.Addr, get("/sub/deep.txt")), 200)
	wantStatus(t, one(t, srv.Addr, get("/big.bin")), 200)

	s3.Stop()
	// Past the cache's validity (1s) and the metadata's (the poll), so
	// that the store would be asked.
	time.Sleep(1500 * time.Millisecond)
	r := one(t, srv.Addr, get("/small.txt"))
	wantStatus(t, r, 200)
	if r.Body != "small\n" {
		t.Errorf("small.txt in the outage: %q", r.Body)
	}
	r = one(t, srv.Addr, get("/big.bin", "Range: bytes=-5"))
	wantStatus(t, r, 206)
	if r.Body != big[len(big)-5:] {
		t.Errorf("big.bin in the outage: %q", r.Body)
	}
	began := time.Now()
	r = one(t, srv.Addr, get("/cold.txt"))
	if r.Status != 503 {
		t.Errorf("cold.txt in the outage: status %d, want 503\n%s", r.Status, r.Raw)
	}
	if d := time.Since(began); d > cfg.Timeout {
		t.Errorf("503 took %v, more than one store call's timeout (%v)", d, cfg.Timeout)
	}

	s3.Start()
	waitBody(t, srv.Addr, "/cold.txt", "cold\n", 10*time.Second)
}

// originStaleBound: past --origin-stale-max in an outage, even what is
// cached is no longer served (503), in both modes.
func originStaleBound(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "stale")
	s3.Put(t, "stale", "plain/a.txt", []byte("a\n"))
	mod := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s3.Deploy(t, "stale", "dep", VersionID(mod, "v1"), map[string]string{"a.txt": "a\n"}, mod)
	cfg := s3.Origin()
	cfg.StaleMax = time.Second
	plain := start(t, Options{Site: site.Config{Root: "s3://stale/plain", Origin: cfg}})
	dep := start(t, Options{Site: site.Config{Root: "s3://stale/dep", Origin: cfg}})
	for _, srv := range []*Server{plain, dep} {
		wantStatus(t, one(t, srv.Addr, get("/a.txt")), 200)
	}
	s3.Stop()
	defer s3.Start()
	// Past the stale bound and the cache's validity (1s).
	time.Sleep(2500 * time.Millisecond)
	for i, srv := range []*Server{plain, dep} {
		if r := one(t, srv.Addr, get("/a.txt")); r.Status != 503 {
			t.Errorf("root %d: a.txt %v into an outage with a stale bound of %v: status %d, want 503", i, 2500*time.Millisecond, cfg.StaleMax, r.Status)
		}
	}
}

// originChanged: a large object rewritten between the fetch of one of
// its segments and the next is never stitched from both: the next
// segment's GET (If-Match) fails, the client gets 503, and the request
// after it the new object whole.
func originChanged(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "chg")
	old, neu := bigBody(2<<20+500, 5), bigBody(2<<20+500, 6) // three segments each
	s3.Put(t, "chg", "obj.bin", []byte(old))
	cfg := s3.Origin()
	cfg.Poll = time.Minute // the metadata stays trusted: only the GET can tell
	srv := start(t, Options{Site: site.Config{Root: "s3://chg", Origin: cfg}})
	r := one(t, srv.Addr, get("/obj.bin", "Range: bytes=0-9"))
	if r.Status != 206 || r.Body != old[:10] {
		t.Fatalf("first range: %d %q", r.Status, r.Body)
	}
	s3.Put(t, "chg", "obj.bin", []byte(neu))
	r = one(t, srv.Addr, get("/obj.bin", "Range: bytes=1500000-1500009"))
	if r.Status == 206 && r.Body != old[1500000:1500010] {
		t.Fatalf("a segment of the new object served as part of the old: %q", r.Body)
	}
	if r.Status != 503 && r.Status != 206 {
		t.Errorf("second range after the rewrite: status %d, want 503 (or the old bytes)", r.Status)
	}
	r = one(t, srv.Addr, get("/obj.bin"))
	if r.Status != 200 || r.Body != neu {
		t.Errorf("after the rewrite: status %d, %d bytes, want the new object", r.Status, len(r.Body))
	}
}

func originConfinement(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "conf")
	s3.Put(t, "conf", "site/hello.txt", []byte("hello\n"))
	s3.Put(t, "conf", "site/dir/in.txt", []byte("in\n"))
	s3.Put(t, "conf", "secret.txt", []byte("SECRET outside the prefix\n"))
	s3.Put(t, "conf", "site-other/x.txt", []byte("SECRET beside the prefix\n"))
	s3.Put(t, "conf", "site/.weft/versions/x.json", []byte("SECRET a deploy not published yet\n"))
	p := startStoreProxy(t, s3)
	cfg := s3.Origin()
	cfg.Endpoint = "http://" + p.Addr
	srv := start(t, Options{Site: site.Config{Root: "s3://conf/site", Origin: cfg, Listing: true, Dotfiles: true}})
	wantStatus(t, one(t, srv.Addr, get("/hello.txt")), 200)
	if r := one(t, srv.Addr, get("/")); strings.Contains(r.Body, ".weft") || !strings.Contains(r.Body, "hello.txt") {
		t.Errorf("listing of /: shows .weft, or not hello.txt:\n%s", r.Body)
	}
	for _, path := range []string{
		"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/..%2fsecret.txt", "/..%2Fsecret.txt",
		"/dir/../../secret.txt", "/dir/%2e%2e/%2e%2e/secret.txt", "/..\\secret.txt", "/..%5csecret.txt", "/%5c..%5csecret.txt",
		"//secret.txt", "/./../secret.txt", "/../site-other/x.txt", "/..%2f..%2fsite-other/x.txt", "/%00secret.txt", "/dir/..%2f..%2fsecret.txt",
		"/.weft/versions/x.json", "/.weft/", "/.weft",
	} {
		c := dial(t, srv.Addr)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", path)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64<<10)
		n, _ := readAll(c, buf)
		c.Close()
		got := string(buf[:n])
		if strings.Contains(got, "SECRET") || !strings.HasPrefix(got, "HTTP/1.1 4") {
			t.Errorf("GET %s:\n%s", path, got)
		}
	}
	// No request reached a key outside the prefix.
	for _, c := range p.all() {
		path, query, _ := strings.Cut(strings.TrimPrefix(c[strings.IndexByte(c, ' ')+1:], ""), "?")
		switch {
		case path == "/conf/" || path == "/conf":
			if v, _ := url.ParseQuery(query); v.Get("prefix") != "" && !strings.HasPrefix(v.Get("prefix"), "site/") {
				t.Errorf("store call outside the prefix: %s", c)
			}
		case !strings.HasPrefix(path, "/conf/site/"):
			t.Errorf("store call outside the prefix: %s", c)
		}
	}
}

// readAll reads from c until EOF or the deadline, into buf.
func readAll(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func originCoalescing(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "coal")
	big := bigBody(1<<20+100, 3) // two segments
	s3.Put(t, "coal", "cold.txt", []byte("cold\n"))
	s3.Put(t, "coal", "big.bin", []byte(big))
	p := startStoreProxy(t, s3)
	cfg := s3.Origin()
	cfg.Endpoint = "http://" + p.Addr
	srv := start(t, Options{Site: site.Config{Root: "s3://coal", Origin: cfg}})
	p.hold.Store(int64(400 * time.Millisecond))
	const n = 8
	for _, tc := range []struct {
		path, body string
		gets       int
	}{{"/cold.txt", "cold\n", 1}, {"/big.bin", big, 2}} {
		var wg sync.WaitGroup
		bodies := make([]string, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resps, _ := exchange(t, srv.Addr, get(tc.path, "Connection: close"))
				if len(resps) == 1 && resps[0].Status == 200 {
					bodies[i] = resps[0].Body
				}
			}()
		}
		wg.Wait()
		for i, b := range bodies {
			if b != tc.body {
				t.Errorf("%s: client %d got %d bytes, not the object", tc.path, i, len(b))
			}
		}
		if got := p.count("GET", "/coal"+tc.path); got != tc.gets {
			t.Errorf("%s: %d concurrent misses made %d GETs at the store, want %d", tc.path, n, got, tc.gets)
		}
	}

	// A range of a large uncached object fetches only its segment; the
	// whole object then fetches only the others.
	p.hold.Store(0)
	seg := bigBody(3<<20+1000, 4) // four segments of 1 MiB
	s3.Put(t, "coal", "seg.bin", []byte(seg))
	r := one(t, srv.Addr, get("/seg.bin", "Range: bytes=2200000-2200009"))
	wantStatus(t, r, 206)
	if r.Body != seg[2200000:2200010] {
		t.Errorf("range of seg.bin: %q", r.Body)
	}
	if got := p.count("GET", "/coal/seg.bin"); got != 1 {
		t.Errorf("a 10-byte range of an uncached object made %d GETs, want 1 (its segment)", got)
	}
	r = one(t, srv.Addr, get("/seg.bin"))
	if r.Status != 200 || r.Body != seg {
		t.Errorf("seg.bin: status %d, %d bytes, not the object", r.Status, len(r.Body))
	}
	if got := p.count("GET", "/coal/seg.bin"); got != 4 {
		t.Errorf("the range then the whole object made %d GETs, want 4 (one per segment)", got)
	}
}

// originDiskBound: the disk cache stays within its budget, counting the
// files it removed that a descriptor still keeps (the site's cache of
// open files kept every evicted object's removed file open: 8 objects
// of 256 KiB held 2 MiB under a 600 KiB budget).
func originDiskBound(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "disk")
	const size, files, budget = 256 << 10, 8, 600 << 10
	for i := 0; i < files; i++ {
		s3.Put(t, "disk", fmt.Sprintf("f%d.bin", i), []byte(bigBody(size, byte(i))))
	}
	cfg := s3.Origin()
	cfg.CacheDir = t.TempDir()
	cfg.CacheMaxBytes = budget
	srv := start(t, Options{Site: site.Config{Root: "s3://disk", Origin: cfg}})
	for i := 0; i < files; i++ {
		r := one(t, srv.Addr, get(fmt.Sprintf("/f%d.bin", i)))
		if r.Status != 200 || r.Body != bigBody(size, byte(i)) {
			t.Fatalf("f%d.bin: status %d, not the object", i, r.Status)
		}
		if _, held := cacheHeld(t, cfg.CacheDir); held > budget {
			t.Errorf("after f%d.bin the cache holds %d bytes on disk (removed files still open included), over its %d", i, held, budget)
		}
	}
}

// originEvictedWhileFetched: an object evicted from the disk cache while
// its segment is being fetched, then asked for again, gets a cache file
// of its own; its segment is fetched into that file, never taken as
// fetched because the evicted file's GET finished (the second client
// got the sparse file's zeros).
func originEvictedWhileFetched(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "evf")
	const size = 600 << 10 // one segment each; the budget holds one
	x, y := bigBody(size, 7), bigBody(size, 8)
	s3.Put(t, "evf", "x.bin", []byte(x))
	s3.Put(t, "evf", "y.bin", []byte(y))
	p := startStoreProxy(t, s3)
	cfg := s3.Origin()
	cfg.Endpoint = "http://" + p.Addr
	cfg.CacheDir = t.TempDir()
	cfg.CacheMaxBytes = size + size/2
	srv := start(t, Options{Site: site.Config{Root: "s3://evf", Origin: cfg, Cache: site.CacheConfig{MaxOpen: 1}}})
	// Learn the names first: only the objects' GETs are held.
	wantStatus(t, one(t, srv.Addr, req("HEAD", "/x.bin")), 200)
	p.hold.Store(int64(600 * time.Millisecond))
	var wg sync.WaitGroup
	bodies := make([]string, 3)
	for i, path := range []string{"/x.bin", "/y.bin", "/x.bin"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := one(t, srv.Addr, get(path)); r.Status == 200 {
				bodies[i] = r.Body
			} else {
				bodies[i] = fmt.Sprint(r.Status)
			}
		}()
		time.Sleep(150 * time.Millisecond) // in this order: x acquired, evicted by y, acquired again
	}
	wg.Wait()
	for i, want := range []string{x, y, x} {
		if bodies[i] != want && bodies[i] != "503" {
			t.Errorf("client %d: %d bytes, %d of them zeros: not the object", i, len(bodies[i]), strings.Count(bodies[i], "\x00"))
		}
	}
}

// originHangingStore: a store that takes requests and never answers
// them: a miss gets 503 after one call's timeout, never a hang; what is
// cached is still served; the root recovers when the store answers.
func originHangingStore(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "hang")
	s3.Put(t, "hang", "hot.txt", []byte("hot\n"))
	s3.Put(t, "hang", "cold.txt", []byte("cold\n"))
	s3.Put(t, "hang", "cold.bin", []byte(bigBody(200<<10, 14)))
	p := startStoreProxy(t, s3)
	cfg := s3.Origin()
	cfg.Endpoint = "http://" + p.Addr
	cfg.Timeout = time.Second
	cfg.StaleMax = time.Minute
	srv := start(t, Options{Site: site.Config{Root: "s3://hang", Origin: cfg}})
	wantStatus(t, one(t, srv.Addr, get("/hot.txt")), 200)
	gate := make(chan struct{})
	p.gate.Store(&gate)
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release()
	for _, path := range []string{"/cold.txt", "/cold.bin", "/cold.bin"} {
		if r := one(t, srv.Addr, get(path)); r.Status != 503 {
			t.Errorf("%s while the store hangs: status %d, want 503", path, r.Status)
		}
	}
	if r := one(t, srv.Addr, get("/hot.txt")); r.Status != 200 || r.Body != "hot\n" {
		t.Errorf("hot.txt while the store hangs: %d %q", r.Status, r.Body)
	}
	p.gate.Store(nil)
	release()
	waitBody(t, srv.Addr, "/cold.txt", "cold\n", 10*time.Second)
	waitBody(t, srv.Addr, "/cold.bin", bigBody(200<<10, 14), 10*time.Second)
}

// originCacheDirUnusable: when the disk cache's folder cannot be made
// or written, a large object is a server error (500), not absent or
// forbidden: the object exists (it was 404 with the folder beneath a
// file, 403 with a folder the user may not write); small objects, in
// memory, are still served.
func originCacheDirUnusable(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "cdir")
	s3.Put(t, "cdir", "big.bin", []byte(bigBody(100<<10, 13)))
	s3.Put(t, "cdir", "small.txt", []byte("small\n"))
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := s3.Origin()
	cfg.CacheDir = filepath.Join(file, "cache") // beneath a file: never a folder
	srv := start(t, Options{Site: site.Config{Root: "s3://cdir", Origin: cfg}})
	if r := one(t, srv.Addr, get("/big.bin")); r.Status != 500 {
		t.Errorf("a large object with no folder to cache it in: status %d, want 500", r.Status)
	}
	if r := one(t, srv.Addr, get("/small.txt")); r.Status != 200 || r.Body != "small\n" {
		t.Errorf("small.txt: %d %q", r.Status, r.Body)
	}
}

// originSwitchMidBody: a large object half-sent when the version
// switches is finished with the old version's bytes; If-Range with the
// old validator then gets the new object whole, with the new one a range.
func originSwitchMidBody(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "mid")
	mod := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	v1, v2 := bigBody(2<<20+700, 11), bigBody(2<<20+700, 12)
	s3.Deploy(t, "mid", "", VersionID(mod, "v1"), map[string]string{"big.bin": v1}, mod)
	cfg := s3.Origin()
	srv := start(t, Options{Site: site.Config{Root: "s3://mid", Origin: cfg}})
	c := dial(t, srv.Addr)
	defer c.Close()
	fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReaderSize(c, 4096)
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(br, first); err != nil {
		t.Fatal(err)
	}
	s3.Deploy(t, "mid", "", VersionID(mod.Add(time.Hour), "v2"), map[string]string{"big.bin": v2}, mod.Add(time.Hour))
	waitBody(t, srv.Addr, "/big.bin", v2, cfg.Poll+5*time.Second)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	whole := string(first) + string(rest)
	_, body, _ := strings.Cut(whole, "\r\n\r\n")
	if body != v1 {
		t.Errorf("the download begun before the switch: %d bytes, not v1's %d (v2's: %v)", len(body), len(v1), body == v2)
	}
	r := one(t, srv.Addr, get("/big.bin", "Range: bytes=0-9", "If-Range: "+hashTag(v1)))
	if r.Status != 200 || r.Body != v2 {
		t.Errorf("If-Range with v1's tag after the switch: %d, %d bytes, want 200 and v2", r.Status, len(r.Body))
	}
	r = one(t, srv.Addr, get("/big.bin", "Range: bytes=0-9", "If-Range: "+hashTag(v2)))
	if r.Status != 206 || r.Body != v2[:10] {
		t.Errorf("If-Range with v2's tag: %d %q, want 206 and v2's first bytes", r.Status, r.Body)
	}
}

// originFolderTimes: a plain-mode folder (a prefix of keys) has no time
// of its own, and its listing says so (the zero time was shown as
// 1754-08-30 22:43, "272 years ago"); a file's time is its object's.
func originFolderTimes(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "times")
	s3.Put(t, "times", "w/f.txt", []byte("f\n"))
	s3.Put(t, "times", "w/d/x.txt", []byte("x\n"))
	srv := start(t, Options{Site: site.Config{Root: "s3://times/w", Origin: s3.Origin(), Listing: true}})
	r := one(t, srv.Addr, get("/"))
	wantStatus(t, r, 200)
	year := strconv.Itoa(time.Now().UTC().Year())
	if strings.Contains(r.Body, "<time datetime=\"17") || strings.Count(r.Body, "<time datetime=\""+year) != 1 {
		t.Errorf("HTML listing: want one time, this year's (f.txt), and none for the folder d:\n%s", r.Body)
	}
	r = one(t, srv.Addr, get("/", "Accept: application/json"))
	wantStatus(t, r, 200)
	var rows []struct {
		Name  string
		MTime *string
	}
	if err := json.Unmarshal([]byte(r.Body), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("JSON listing: %v\n%s", err, r.Body)
	}
	for _, row := range rows {
		if (row.Name == "d") != (row.MTime == nil) || row.MTime != nil && !strings.HasPrefix(*row.MTime, year) {
			t.Errorf("JSON listing: %s has mtime %v, want null for the folder d, this year for f.txt", row.Name, row.MTime)
		}
	}
}

// originOverBudget: an object larger than the whole disk budget is
// still fetched once for the clients that want it at the same time (each
// had a removed file of its own, filled by GETs of its own: four clients,
// four copies on disk and four GETs per segment), and leaves no file.
func originOverBudget(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "over")
	big := bigBody(2<<20+300, 9) // three segments
	s3.Put(t, "over", "big.bin", []byte(big))
	p := startStoreProxy(t, s3)
	cfg := s3.Origin()
	cfg.Endpoint = "http://" + p.Addr
	cfg.CacheDir = t.TempDir()
	cfg.CacheMaxBytes = 1 << 20
	srv := start(t, Options{Site: site.Config{Root: "s3://over", Origin: cfg}})
	wantStatus(t, one(t, srv.Addr, req("HEAD", "/big.bin")), 200)
	p.hold.Store(int64(300 * time.Millisecond))
	const n = 4
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps, _ := exchange(t, srv.Addr, get("/big.bin", "Connection: close"))
			if len(resps) != 1 || resps[0].Status != 200 || resps[0].Body != big {
				t.Errorf("client %d: not the object", i)
			}
		}()
	}
	wg.Wait()
	if got := p.count("GET", "/over/big.bin"); got != 3 {
		t.Errorf("%d concurrent clients of an object over the disk budget made %d GETs, want 3 (one per segment)", n, got)
	}
	if fds, held := cacheHeld(t, cfg.CacheDir); fds != 0 || held != 0 {
		t.Errorf("after the downloads the cache holds %d descriptors, %d bytes", fds, held)
	}
}

// originUnfitNames: a name that cannot be a key (longer than 1,024
// bytes beneath the prefix, not UTF-8) is not found, without a store
// call, and does not pass for an outage (the client's refusal of such a
// key counted as the store failing: one such request, and every name not
// seen yet got 503, or a stale 404, until the next poll).
func originUnfitNames(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "unfit")
	s3.Put(t, "unfit", "w/a.txt", []byte("a\n"))
	s3.Put(t, "unfit", "w/b.txt", []byte("b\n"))
	long := strings.Repeat("a", 1100)
	for _, listMax := range []int{0, -1} {
		cfg := s3.Origin()
		cfg.Poll = time.Minute // no poll clears a false outage during the test
		cfg.ListMax = listMax
		srv := start(t, Options{Site: site.Config{Root: "s3://unfit/w", Origin: cfg}})
		for _, path := range []string{"/" + long + "/x.txt", "/" + long + ".txt", "/x%ff.txt", "/%ff/x.txt", "/" + long[:300] + ".txt"} {
			if r := one(t, srv.Addr, get(path)); r.Status != 404 {
				t.Errorf("ListMax %d: GET %.40s…: status %d, want 404", listMax, path, r.Status)
			}
		}
		for _, name := range []string{"a.txt", "b.txt"} {
			if r := one(t, srv.Addr, get("/"+name)); r.Status != 200 {
				t.Errorf("ListMax %d: %s after those: status %d, want 200", listMax, name, r.Status)
			}
		}
	}
}

// originSlowStore: while the store holds misses (as many as an
// event-loop engine has disk workers, and more), a file cached in memory
// is still answered: an entry past the cache's validity is served from
// memory and confirmed in the background, not sent to the disk path to
// wait for a worker behind the store (it waited until the store let go).
func originSlowStore(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "slow")
	workers := 4 * runtime.GOMAXPROCS(0) // the epoll engine's default pool (engine.LoopSizes)
	n := workers + 4
	s3.Put(t, "slow", "hot.txt", []byte("hot\n"))
	for i := 0; i < n; i++ {
		s3.Put(t, "slow", fmt.Sprintf("cold%d.txt", i), []byte("cold\n"))
	}
	p := startStoreProxy(t, s3)
	cfg := s3.Origin()
	cfg.Endpoint = "http://" + p.Addr
	cfg.Timeout = time.Minute // the store is slow, not down
	srv := start(t, Options{Site: site.Config{Root: "s3://slow", Origin: cfg, Cache: site.CacheConfig{Validity: time.Millisecond}}})
	if r := one(t, srv.Addr, get("/hot.txt")); r.Status != 200 || r.Body != "hot\n" {
		t.Fatalf("hot.txt: %d %q", r.Status, r.Body)
	}
	gate := make(chan struct{})
	p.gate.Store(&gate)
	var wg sync.WaitGroup
	defer wg.Wait()
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, srv.Addr)
			defer c.Close()
			fmt.Fprintf(c, "GET /cold%d.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", i)
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			io.Copy(io.Discard, c)
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); p.held.Load() < int64(workers); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d misses reached the store", p.held.Load(), n)
		}
	}
	c := dial(t, srv.Addr)
	defer c.Close()
	fmt.Fprintf(c, "GET /hot.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	k, _ := readAll(c, buf)
	if got := string(buf[:k]); !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, "\r\n\r\nhot\n") {
		t.Errorf("hot.txt, cached, while %d misses wait on the store: %q (no answer until the store lets go)", p.held.Load(), got)
	}
	release()
}

// originLargeFolder: in a folder of more keys than ListMax, names are
// asked about with a HEAD each, as the README says, after one LIST per
// poll interval that found the folder too large (every cold name made a
// LIST of ListMax keys, then its HEAD).
func originLargeFolder(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "large")
	const keys, listMax = 12, 4
	for i := 0; i < keys; i++ {
		s3.Put(t, "large", fmt.Sprintf("d/k%02d.txt", i), []byte(fmt.Sprintf("key %d\n", i)))
	}
	p := startStoreProxy(t, s3)
	cfg := s3.Origin()
	cfg.Endpoint = "http://" + p.Addr
	cfg.Poll = time.Minute // one poll interval for the whole test
	cfg.ListMax = listMax
	srv := start(t, Options{Site: site.Config{Root: "s3://large", Origin: cfg}})
	lists := func() int {
		n := 0
		for _, c := range p.all() {
			if v, err := url.ParseQuery(strings.TrimPrefix(c, "GET /large/?")); err == nil && strings.HasPrefix(c, "GET /large/?") && v.Get("prefix") == "d/" {
				n++
			}
		}
		return n
	}
	for i := 0; i < keys; i += 2 {
		r := one(t, srv.Addr, get(fmt.Sprintf("/d/k%02d.txt", i)))
		if r.Status != 200 || r.Body != fmt.Sprintf("key %d\n", i) {
			t.Fatalf("k%02d.txt: status %d %q", i, r.Status, r.Body)
		}
	}
	if n := lists(); n != 1 {
		t.Errorf("%d names of a folder of %d keys (ListMax %d) made %d LISTs of it in one poll interval, want 1", keys/2, keys, listMax, n)
	}
}

// originHotStaysOnDisk: a large object sent again and again from the
// in-memory cache's open file counts as used: the disk cache evicts an
// object unused since, not it (it evicted by the time of the last open,
// so the hottest object, never opened again, went first and was fetched
// from the store again).
func originHotStaysOnDisk(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "hotd")
	const size = 256 << 10
	for _, n := range []string{"a", "b", "c"} {
		s3.Put(t, "hotd", n+".bin", []byte(bigBody(size, n[0])))
	}
	p := startStoreProxy(t, s3)
	cfg := s3.Origin()
	cfg.Endpoint = "http://" + p.Addr
	cfg.CacheDir = t.TempDir()
	cfg.CacheMaxBytes = 2*size + size/2 // two objects
	srv := start(t, Options{Site: site.Config{Root: "s3://hotd", Origin: cfg, Cache: site.CacheConfig{Validity: time.Hour}}})
	for _, n := range []string{"a", "b", "a", "a", "c", "a"} {
		if r := one(t, srv.Addr, get("/"+n+".bin")); r.Status != 200 || r.Body != bigBody(size, n[0]) {
			t.Fatalf("%s.bin: status %d, not the object", n, r.Status)
		}
	}
	if got := p.count("GET", "/hotd/a.bin"); got != 1 {
		t.Errorf("a.bin, sent four times and last before c.bin was opened, was fetched %d times, want 1", got)
	}
}

// originDiskHeld: the disk cache keeps a descriptor open only for an
// object in use (it held one per object cached: 1 GiB of 40 KiB objects
// is 26,000 descriptors, whatever --cache-max-open says).
func originDiskHeld(t *testing.T, start Starter) {
	s3 := StartS3(t)
	s3.MakeBucket(t, "held")
	const small, many, maxOpen = 40 << 10, 12, 2
	for i := 0; i < many; i++ {
		s3.Put(t, "held", fmt.Sprintf("s%d.bin", i), []byte(bigBody(small, byte(i))))
	}
	cfg := s3.Origin()
	cfg.CacheDir = t.TempDir()
	srv := start(t, Options{Site: site.Config{Root: "s3://held", Origin: cfg, Cache: site.CacheConfig{MaxOpen: maxOpen}}})
	for i := 0; i < many; i++ {
		wantStatus(t, one(t, srv.Addr, get(fmt.Sprintf("/s%d.bin", i))), 200)
	}
	if fds, _ := cacheHeld(t, cfg.CacheDir); fds > maxOpen {
		t.Errorf("%d objects served with --cache-max-open %d: %d descriptors open on the disk cache", many, maxOpen, fds)
	}
}

// cacheHeld counts the descriptors this process holds on files beneath
// dir, and the bytes of those files and of the others beneath it, each
// file once, removed ones still open included.
func cacheHeld(t *testing.T, dir string) (fds int, bytes int64) {
	seen := map[uint64]bool{}
	add := func(p string) {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil && !seen[st.Ino] {
			seen[st.Ino] = true
			bytes += st.Size
		}
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, e := range ents {
		p := "/proc/self/fd/" + e.Name()
		if l, err := os.Readlink(p); err == nil && strings.HasPrefix(l, dir+"/") {
			fds++
			add(p)
		}
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			add(p)
		}
		return nil
	})
	return fds, bytes
}

func originUploads(t *testing.T) {
	_, err := site.Open(site.Config{Root: "s3://some-bucket/p", Origin: origin.Config{Endpoint: "http://127.0.0.1:1"}, Upload: site.UploadConfig{On: true}})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "uploads need a folder") {
		t.Fatalf("uploads over an s3:// root: %v", err)
	}
}
