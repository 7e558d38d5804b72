package server

import (
	"archive/zip"
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/engine/process"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// openSite opens a site over a new folder holding a.txt and b.txt (large
// enough to be compressed on the fly), whose Cache-Control is value.
func openSite(t testing.TB, value string) *site.Site {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "b.txt"), bytes.Repeat([]byte("compressible text\n"), 300), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := site.Open(site.Config{Root: root, CacheControl: []site.CacheRule{{Glob: "*.txt", Value: value}}, Cache: site.CacheConfig{NoWatch: true, Validity: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// get answers GET /a.txt through h's disk path (memory false) or its
// memory path, and returns the status and the Cache-Control value (0 and
// "" for a memory miss). With gzip, it asks for /b.txt, gzipped.
func get(h http1.MemoryHandler, memory bool, gzip ...bool) (int, string) {
	req := http1.Request{Method: http1.MethodGet, Path: []byte("/a.txt"), Minor: 1}
	if len(gzip) > 0 && gzip[0] {
		req.Path, req.AcceptEncoding = []byte("/b.txt"), []byte("gzip")
	}
	var resp http1.Response
	if memory {
		if !h.ServeFromMemory(&req, &resp) {
			return 0, ""
		}
	} else {
		h.ServeHTTP1(&req, &resp)
	}
	if resp.Closer != nil {
		resp.Closer.Close()
	}
	head := string(resp.Fixed.Text) + string(resp.Header.Text)
	_, cc, _ := strings.Cut(head, "Cache-Control: ")
	cc, _, _ = strings.Cut(cc, "\r\n")
	return resp.Status, cc
}

// TestRetireWaitsForTheDiskPath: a replaced site is closed only once no
// request is in its disk path any more; a request that meets a retired
// snapshot takes the current one.
func TestRetireWaitsForTheDiskPath(t *testing.T) {
	sw := newSwitch(openSite(t, "max-age=1"))
	r := &retirer{log: slog.New(slog.DiscardHandler), grace: time.Hour, stop: make(chan struct{})}
	defer func() { r.shutdown(); sw.cur.Load().site.Close() }()

	inFlight := sw.enter() // a request in the old site's disk path
	old := sw.swap(openSite(t, "max-age=2"))
	if old != inFlight {
		t.Fatal("swap returned another snapshot")
	}
	r.retire(old)
	if st, cc := get(sw, false); st != 200 || cc != "max-age=2" {
		t.Fatalf("after the swap: %d %q", st, cc)
	}
	time.Sleep(50 * time.Millisecond)
	if st, cc := get(old.site, false); st != 200 || cc != "max-age=1" {
		t.Fatalf("the old site was closed under a request: %d %q", st, cc)
	}
	inFlight.busy.Add(-1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		// A closed site cannot open files any more.
		if st, _ := get(old.site, false); st != 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old site was never closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := sw.enter(); s.site == old.site {
		t.Error("enter took the retired snapshot")
	} else {
		s.busy.Add(-1)
	}
}

// TestSwitchUnderSwaps: requests through both paths while the site is
// swapped 50 times are all answered, each with one site's header (run it
// with -race).
func TestSwitchUnderSwaps(t *testing.T) {
	sw := newSwitch(openSite(t, "max-age=0"))
	r := &retirer{log: slog.New(slog.DiscardHandler), grace: time.Hour, stop: make(chan struct{})}
	sites := []*site.Site{}
	for i := 1; i <= 50; i++ {
		sites = append(sites, openSite(t, "max-age="+string(rune('0'+i%10))))
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var answered atomic.Int64
	errs := make(chan string, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				st, cc := get(sw, n%2 == 0, n%3 == 0)
				if st == 0 {
					continue // a memory miss
				}
				// A gzip client answered in identity while its variant
				// is built gets no-cache (a stand-in must not be kept
				// as long as the site's value says).
				if st != 200 || !strings.HasPrefix(cc, "max-age=") && !(cc == site.NoCache && n%3 == 0) {
					select {
					case errs <- cc:
					default:
					}
					return
				}
				answered.Add(1)
			}
		}()
	}
	for _, st := range sites {
		time.Sleep(2 * time.Millisecond)
		r.retire(sw.swap(st))
	}
	stop.Store(true)
	wg.Wait()
	r.shutdown()
	sw.cur.Load().site.Close()
	close(errs)
	for e := range errs {
		t.Errorf("a bad answer during swaps: Cache-Control %q", e)
	}
	if answered.Load() == 0 {
		t.Error("nothing answered")
	}
}

// TestMemoryPathAllocatesNothing: the switch adds no allocation to a
// cached answer.
func TestMemoryPathAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	sw := newSwitch(openSite(t, "max-age=1"))
	defer sw.cur.Load().site.Close()
	get(sw, false) // cache it
	if st, _ := get(sw, true); st != 200 {
		t.Fatalf("not cached: %d", st)
	}
	req := http1.Request{Method: http1.MethodGet, Path: []byte("/a.txt"), Minor: 1}
	var resp http1.Response
	n := testing.AllocsPerRun(1000, func() {
		resp.Reset()
		sw.ServeFromMemory(&req, &resp)
		if resp.Closer != nil {
			resp.Closer.Close()
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per cached answer through the switch", n)
	}
}

// TestConfigTablesMatch: what the configuration's table says about the
// server's parts is what they are.
func TestConfigTablesMatch(t *testing.T) {
	help := config.Lookup("engine").Help
	for _, name := range EngineNames() {
		if !strings.Contains(help, name) {
			t.Errorf("the engine key's help lacks %q: %s", name, help)
		}
	}
	for _, f := range config.LogFormats {
		if _, err := accesslog.ParseFormat(f); err != nil {
			t.Errorf("log format %q: %v", f, err)
		}
	}
	for _, v := range []string{process.EnvWorker, process.EnvRoot} {
		if !slices.Contains(config.Reserved, v) {
			t.Errorf("%s is not reserved in the configuration's environment", v)
		}
	}
	// The defaults derive the configuration weft had before the file.
	cfg := FromConfig(config.Defaults())
	if cfg.Addr != "127.0.0.1:8080" || cfg.Engine != "auto" || !cfg.AccessLog || cfg.LogFile != "-" || cfg.LogFormat != accesslog.Common {
		t.Errorf("%+v", cfg)
	}
	if got, want := *cfg.Limits.WithDefaults(), *(Config{}).Limits.WithDefaults(); got.Limits != want.Limits || got.IdleTimeout != want.IdleTimeout ||
		got.ReadHeaderTimeout != want.ReadHeaderTimeout || got.WriteTimeout != want.WriteTimeout || got.ShutdownTimeout != want.ShutdownTimeout ||
		got.MaxConns != want.MaxConns || got.MaxBodyBytes != want.MaxBodyBytes {
		t.Errorf("the defaults' limits %+v differ from the engines' %+v", got, want)
	}
}

// TestRestartKeys: a reload reports the changed settings it cannot apply.
func TestRestartKeys(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	f := config.NewFlags(fs)
	fs.Parse([]string{"--port", "1", "--idle-timeout", "1s", "--listing", "--config", ""})
	now, err := config.Load(config.Options{Flags: f})
	if err != nil {
		t.Fatal(err)
	}
	old := config.Defaults()
	if got := restartKeys(old, now, false); !slices.Equal(got, []string{"port", "idle_timeout"}) {
		t.Errorf("in-process: %v", got)
	}
	if got := restartKeys(old, now, true); !slices.Equal(got, []string{"port"}) {
		t.Errorf("process engine: %v", got)
	}
}

// TestPidFile: written while serving, removed after unless another took it.
func TestPidFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "weft.pid")
	remove, err := writePidFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(name); !bytes.Equal(bytes.TrimSpace(b), []byte(strconv.Itoa(os.Getpid()))) {
		t.Errorf("pid file holds %q", b)
	}
	remove()
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("not removed: %v", err)
	}
	remove, _ = writePidFile(name)
	os.WriteFile(name, []byte("1\n"), 0o644) // another weft's now
	remove()
	if _, err := os.Stat(name); err != nil {
		t.Errorf("another's pid file removed: %v", err)
	}
}

// TestRetireWaitsForADownload: a folder download reads its site after the
// disk path has returned, as it is sent; a reload meanwhile closes the old
// site only once the download is done, and the archive is whole. A site
// closed under a download anyway (a shutdown) fails the archive rather
// than leave files out of it.
func TestRetireWaitsForADownload(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"a.txt", "sub/b.txt"} {
		p := filepath.Join(root, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func() *site.Site {
		st, err := site.Open(site.Config{Root: root, Listing: true})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	download := func(h http1.Handler) *http1.Response {
		req := http1.Request{Method: http1.MethodGet, Path: []byte("/"), Query: []byte("download=zip"), Minor: 1}
		resp := new(http1.Response)
		h.ServeHTTP1(&req, resp)
		if resp.Status != 200 || resp.Stream == nil {
			t.Fatalf("download: status %d, stream %v", resp.Status, resp.Stream)
		}
		return resp
	}
	sw := newSwitch(open())
	r := &retirer{log: slog.New(slog.DiscardHandler), grace: time.Hour, stop: make(chan struct{})}
	defer func() { r.shutdown(); sw.cur.Load().site.Close() }()
	resp := download(sw)
	r.retire(sw.swap(open()))
	time.Sleep(50 * time.Millisecond) // time for the retirer to close it, if it did not wait
	var b bytes.Buffer
	if _, err := resp.Stream.WriteTo(&b); err != nil {
		t.Fatalf("download across a reload: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	top := filepath.Base(root)
	if want := []string{top + "/sub/", top + "/sub/b.txt", top + "/a.txt"}; !slices.Equal(names, want) {
		t.Fatalf("archive holds %q, want %q", names, want)
	}
	resp.Closer.Close()

	st := open()
	resp = download(st)
	st.Close()
	if _, err := resp.Stream.WriteTo(io.Discard); err == nil {
		t.Fatal("an archive of a closed site succeeded")
	}
}
