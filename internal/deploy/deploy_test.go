package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/manifest"
	"github.com/weft-server/weft/internal/s3conn"
	"github.com/weft-server/weft/internal/site"
)

// testStore starts a real S3 server (versitygw) with one bucket and
// returns the store at s3://weft-site/www in it.
func testStore(t *testing.T) (Store, *conformance.S3) {
	t.Helper()
	s3 := conformance.StartS3(t)
	c, err := s3conn.Options{
		Endpoint:  "http://" + s3.Endpoint,
		Region:    "us-east-1",
		PathStyle: true,
		Env:       []string{"AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3.SecretKey},
	}.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), "weft-site", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return Store{Client: c, Loc: s3conn.Location{Bucket: "weft-site", Prefix: "www"}}, s3
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// state is what the store holds: objects by hash with their bytes, the
// versions and the pointer.
type state struct {
	objects  map[string]string
	versions []string
	current  string
}

func readState(t *testing.T, s Store) state {
	t.Helper()
	ctx := context.Background()
	objs, err := s.objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := state{objects: map[string]string{}}
	for h, o := range objs {
		r, err := s.Client.GetObject(ctx, s.Loc.Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sum(string(b)) != h {
			t.Errorf("object %s holds bytes hashing to %s", h, sum(string(b)))
		}
		st.objects[h] = string(b)
	}
	if st.versions, err = s.versions(ctx); err != nil {
		t.Fatal(err)
	}
	if st.current, err = s.current(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func deployDir(t *testing.T, s Store, dir string, h hooks) (Result, error) {
	t.Helper()
	return Deploy(context.Background(), s, Options{Site: site.Config{Root: dir}, Jobs: 3, hooks: h})
}

func mustDeploy(t *testing.T, s Store, dir string) Result {
	t.Helper()
	res, err := deployDir(t, s, dir, hooks{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// deployedOnce returns a store holding one version of site1 (r1), and
// the folder deployed, now with index.html changed to "<h1>two</h1>"; a
// second deploy gets a later version ID.
func deployedOnce(t *testing.T) (s Store, s3 *conformance.S3, dir string, r1 Result) {
	t.Helper()
	s, s3 = testStore(t)
	dir = t.TempDir()
	conformance.WriteTree(t, dir, site1)
	r1 = mustDeploy(t, s, dir)
	conformance.WriteTree(t, dir, map[string]string{"index.html": "<h1>two</h1>"})
	time.Sleep(1100 * time.Millisecond) // IDs are to the second
	return s, s3, dir, r1
}

// wantOnly fails t unless the store's pointer names cur and it holds
// exactly the versions vs (newest first).
func wantOnly(t *testing.T, s Store, cur string, vs ...string) state {
	t.Helper()
	st := readState(t, s)
	if st.current != cur || !slices.Equal(st.versions, vs) {
		t.Errorf("current %s, versions %v; want %s, %v", st.current, st.versions, cur, vs)
	}
	return st
}

var site1 = map[string]string{
	"index.html":     "<h1>one</h1>",
	"css/site.css":   "body{color:red}",
	"js/app.js":      "console.log('app')",
	"js/app.js.br":   "brotli bytes",
	"copy/index.htm": "<h1>one</h1>", // the same bytes as index.html: one object
	".secret":        "a dotfile: not served, not uploaded",
}

// TestDeployTwice: the first deploy uploads every content once; the
// second, with one file changed, uploads exactly that file's new object,
// and both versions' manifests list what a request can reach.
func TestDeployTwice(t *testing.T) {
	s, _ := testStore(t)
	dir := t.TempDir()
	conformance.WriteTree(t, dir, site1)
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	r1 := mustDeploy(t, s, dir)
	want := map[string]string{}
	for name, body := range site1 {
		if !strings.HasPrefix(name, ".") {
			want[sum(body)] = body
		}
	}
	if r1.Files != 5 || r1.Uploaded != 4 || r1.Reused != 0 || r1.Previous != "" {
		t.Errorf("first deploy: %+v, want 5 files, 4 uploaded, 0 reused", r1)
	}
	st := readState(t, s)
	if !maps.Equal(st.objects, want) {
		t.Errorf("objects after the first deploy: %v, want %v", slices.Sorted(maps.Keys(st.objects)), slices.Sorted(maps.Keys(want)))
	}
	if st.current != r1.ID || !slices.Equal(st.versions, []string{r1.ID}) {
		t.Errorf("after the first deploy: current %q, versions %v; want %s", st.current, st.versions, r1.ID)
	}
	m, err := s.manifest(context.Background(), r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(m.Files)); !slices.Equal(got, []string{"copy/index.htm", "css/site.css", "index.html", "js/app.js", "js/app.js.br"}) {
		t.Errorf("manifest files %v", got)
	}
	if !slices.Equal(m.Dirs, []string{"copy", "css", "empty", "js"}) {
		t.Errorf("manifest dirs %v", m.Dirs)
	}
	if f := m.Files["css/site.css"]; f.SHA256 != sum(site1["css/site.css"]) || f.Size != int64(len(site1["css/site.css"])) {
		t.Errorf("css/site.css: %+v", f)
	}

	time.Sleep(1100 * time.Millisecond) // IDs are to the second: a later one
	conformance.WriteTree(t, dir, map[string]string{"css/site.css": "body{color:blue}"})
	r2 := mustDeploy(t, s, dir)
	if r2.Uploaded != 1 || r2.Reused != 3 || r2.Previous != r1.ID || r2.UploadedBytes != int64(len("body{color:blue}")) {
		t.Errorf("second deploy: %+v, want 1 uploaded (16 bytes), 3 reused, previous %s", r2, r1.ID)
	}
	want[sum("body{color:blue}")] = "body{color:blue}"
	st = readState(t, s)
	if !maps.Equal(st.objects, want) {
		t.Errorf("objects after the second deploy: %v, want %v", slices.Sorted(maps.Keys(st.objects)), slices.Sorted(maps.Keys(want)))
	}
	if st.current != r2.ID || !slices.Equal(st.versions, []string{r2.ID, r1.ID}) {
		t.Errorf("after the second deploy: current %q, versions %v; want %s then %s", st.current, st.versions, r2.ID, r1.ID)
	}
}

// TestPhases: the pointer moves only once the objects and then the
// manifest are in the store; each phase is checked as it ends.
func TestPhases(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	var seen []Phase
	check := func(p Phase) {
		seen = append(seen, p)
		st := readState(t, s)
		_, hasNew := st.objects[sum("<h1>two</h1>")]
		switch p {
		case Scanned, Compared:
			if hasNew || len(st.versions) != 1 || st.current != r1.ID {
				t.Errorf("phase %d: new object %v, versions %v, current %s: the store changed too early", p, hasNew, st.versions, st.current)
			}
		case Uploaded:
			if !hasNew || len(st.versions) != 1 || st.current != r1.ID {
				t.Errorf("uploaded: new object %v, versions %v, current %s; want the object only", hasNew, st.versions, st.current)
			}
		case Written:
			if len(st.versions) != 2 || st.current != r1.ID {
				t.Errorf("written: versions %v, current %s; want the manifest, the pointer unchanged", st.versions, st.current)
			}
		case Switched:
			if len(st.versions) != 2 || st.current != st.versions[0] {
				t.Errorf("switched: versions %v, current %s", st.versions, st.current)
			}
		}
	}
	if _, err := deployDir(t, s, dir, hooks{phase: check}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []Phase{Scanned, Compared, Uploaded, Written, Switched}) {
		t.Errorf("phases %v", seen)
	}
}

// TestFailedUpload: an upload that fails (a file gone, the store down)
// fails the deploy, with no manifest written and the pointer unchanged.
func TestFailedUpload(t *testing.T) {
	s, s3, dir, r1 := deployedOnce(t)
	conformance.WriteTree(t, dir, map[string]string{"css/site.css": "p{}", "js/app.js": "x()"})
	t.Run("FileGone", func(t *testing.T) {
		_, err := deployDir(t, s, dir, hooks{upload: func(name string) {
			if name == "css/site.css" {
				os.Remove(filepath.Join(dir, "css/site.css"))
			}
		}})
		if err == nil || !strings.Contains(err.Error(), "uploading css/site.css: no such file or directory") {
			t.Fatalf("deploy with a file gone: %v", err)
		}
		wantOnly(t, s, r1.ID, r1.ID)
		conformance.WriteTree(t, dir, map[string]string{"css/site.css": "p{}"})
	})
	t.Run("StoreDown", func(t *testing.T) {
		_, err := deployDir(t, s, dir, hooks{upload: func(string) { s3.Stop() }})
		if err == nil || !strings.Contains(err.Error(), "cannot reach the store") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("deploy with the store stopped: %v", err)
		}
		s3.Start()
		wantOnly(t, s, r1.ID, r1.ID)
	})
}

// TestChangedDuringUpload: a file changed after it was hashed fails the
// deploy, and no object is stored under a hash its bytes do not have.
func TestChangedDuringUpload(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	for _, tc := range []struct{ name, now string }{
		{"SameSize", "<h1>TWO</h1>"},
		{"Longer", "<h1>two, longer</h1>"},
		{"Shorter", "<h1>2</h1>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deployDir(t, s, dir, hooks{upload: func(name string) {
				if name == "index.html" {
					conformance.WriteTree(t, dir, map[string]string{"index.html": tc.now})
				}
			}})
			if !errors.Is(err, errChanged) || !strings.Contains(err.Error(), "uploading index.html:") {
				t.Fatalf("deploy of a file changed while uploaded: %v", err)
			}
			st := wantOnly(t, s, r1.ID, r1.ID) // and every object's bytes hash to its name
			if _, ok := st.objects[sum("<h1>two</h1>")]; ok {
				t.Error("the object of the hashed bytes exists, though they were never sent")
			}
			conformance.WriteTree(t, dir, map[string]string{"index.html": "<h1>two</h1>"})
		})
	}
}

// TestVerified: the reader hands over the last bytes only when the file
// still holds what was hashed, and rewinds for a retry.
func TestVerified(t *testing.T) {
	body := strings.Repeat("0123456789", 1000)
	for _, tc := range []struct {
		name, now string
		ok        bool
	}{
		{"Unchanged", body, true},
		{"Changed", strings.Replace(body, "9", "x", 1), false},
		{"Longer", body + "!", false},
		{"Shorter", body[:len(body)-1], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(p, []byte(tc.now), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			v := &verified{f: f, sum: sum(body), size: int64(len(body)), h: sha256.New()}
			for range 2 { // read, rewind, read again
				got, err := io.ReadAll(v)
				if tc.ok && (err != nil || string(got) != body) {
					t.Fatalf("read %d bytes, %v", len(got), err)
				}
				if !tc.ok && (!errors.Is(err, errChanged) || len(got) >= len(body)) {
					t.Fatalf("read %d of %d bytes, err %v; want errChanged before the end", len(got), len(body), err)
				}
				if _, err := v.Seek(0, io.SeekStart); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestRollback switches back to a version whose objects are all there,
// and refuses an unknown version or one with an object missing.
func TestRollback(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	ctx := context.Background()
	r2 := mustDeploy(t, s, dir)
	prev, err := Rollback(ctx, s, r1.ID, nil)
	if err != nil || prev != r2.ID {
		t.Fatalf("rollback to %s: previous %q, %v", r1.ID, prev, err)
	}
	wantOnly(t, s, r1.ID, r2.ID, r1.ID)
	if _, err := Rollback(ctx, s, "20200101T000000Z-00000000", nil); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("rollback to an unknown version: %v", err)
	}
	if _, err := Rollback(ctx, s, "../../x", nil); err == nil || !strings.Contains(err.Error(), "not a version ID") {
		t.Errorf("rollback to a malformed ID: %v", err)
	}
	// r2's own object gone: it cannot be served.
	if err := s.Client.RemoveObject(ctx, s.Loc.Bucket, manifest.ObjectKey(s.Loc.Prefix, sum("<h1>two</h1>")), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(ctx, s, r2.ID, nil); err == nil || !strings.Contains(err.Error(), "the object of index.html is missing") {
		t.Errorf("rollback to a version with an object missing: %v", err)
	}
	wantOnly(t, s, r1.ID, r2.ID, r1.ID)
}

// TestList lists versions newest first, with the current one marked.
func TestList(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	conformance.WriteTree(t, dir, map[string]string{"new.txt": "new"})
	r2 := mustDeploy(t, s, dir)
	if _, err := Rollback(context.Background(), s, r1.ID, nil); err != nil {
		t.Fatal(err)
	}
	l, err := List(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	vs, cur := l.Versions, l.Current
	if cur != r1.ID || len(vs) != 2 || vs[0].ID != r2.ID || vs[1].ID != r1.ID {
		t.Fatalf("list: current %s, %+v", cur, vs)
	}
	if vs[0].Current || !vs[1].Current || vs[0].Files != 6 || vs[1].Files != 5 || vs[1].Bytes != r1.Bytes || vs[0].Created.IsZero() {
		t.Errorf("list: %+v", vs)
	}
}

// sumsOf is the set of objects version id names.
func sumsOf(t *testing.T, s Store, id string) map[string]bool {
	t.Helper()
	m, err := s.manifest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]bool{}
	for _, f := range m.Files {
		sums[f.SHA256] = true
	}
	return sums
}

func collect(t *testing.T, s Store, o CollectOptions) Collected {
	t.Helper()
	res, err := Collect(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCollect: --keep deletes the manifests beyond the newest, never the
// current one, then exactly the objects no remaining version names and
// older than the grace period; a dry run deletes nothing.
func TestCollect(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	ctx := context.Background()
	r2 := mustDeploy(t, s, dir) // index.html: two
	time.Sleep(1100 * time.Millisecond)
	conformance.WriteTree(t, dir, map[string]string{"index.html": "<h1>three</h1>", "css/site.css": "p{}"})
	r3 := mustDeploy(t, s, dir)
	if _, err := Rollback(ctx, s, r1.ID, nil); err != nil {
		t.Fatal(err)
	}
	all := readState(t, s).objects
	if len(all) != 7 {
		t.Fatalf("%d objects after three deploys, want 7", len(all))
	}

	// Keep 1 keeps r3 (the newest) and r1 (current); "two" is named by
	// no version left, but younger than an hour.
	res := collect(t, s, CollectOptions{Keep: 1, Grace: time.Hour})
	if !slices.Equal(res.Versions, []string{r2.ID}) || res.Objects != 0 || res.YoungObjects != 1 {
		t.Errorf("keep 1, grace 1h: %+v; want r2's manifest deleted, 1 young object kept", res)
	}
	st := wantOnly(t, s, r1.ID, r3.ID, r1.ID)
	if len(st.objects) != 7 {
		t.Errorf("%d objects, want 7: none is older than the grace period", len(st.objects))
	}

	res = collect(t, s, CollectOptions{Keep: 1, DryRun: true})
	if len(res.Versions) != 0 || res.Objects != 1 || res.Bytes != int64(len("<h1>two</h1>")) {
		t.Errorf("dry run: %+v; want 1 object of 12 bytes", res)
	}
	if st := wantOnly(t, s, r1.ID, r3.ID, r1.ID); len(st.objects) != 7 {
		t.Errorf("%d objects after a dry run, want 7", len(st.objects))
	}

	collect(t, s, CollectOptions{Keep: 1})
	want := sumsOf(t, s, r1.ID)
	maps.Copy(want, sumsOf(t, s, r3.ID))
	if st := readState(t, s); !maps.Equal(mapSet(st.objects), want) {
		t.Errorf("objects %v, want those of r1 and r3: %v", slices.Sorted(maps.Keys(st.objects)), slices.Sorted(maps.Keys(want)))
	}

	// Back on r3, keep 1 leaves r3 alone and exactly its objects.
	if _, err := Rollback(ctx, s, r3.ID, nil); err != nil {
		t.Fatal(err)
	}
	res = collect(t, s, CollectOptions{Keep: 1})
	if !slices.Equal(res.Versions, []string{r1.ID}) || res.Objects != 1 {
		t.Errorf("keep 1 on r3: %+v; want r1's manifest and its one object of its own", res)
	}
	st = wantOnly(t, s, r3.ID, r3.ID)
	if !maps.Equal(mapSet(st.objects), sumsOf(t, s, r3.ID)) {
		t.Errorf("objects %v, want r3's", slices.Sorted(maps.Keys(st.objects)))
	}
	if _, err := Collect(ctx, s, CollectOptions{Keep: 0}); err == nil {
		t.Error("keep 0 accepted")
	}
}

func mapSet[V any](m map[string]V) map[string]bool {
	s := map[string]bool{}
	for k := range m {
		s[k] = true
	}
	return s
}

// TestCollectDuringDeploy: a --keep run while a deploy has uploaded its
// objects but not yet written its manifest leaves them alone (they are
// younger than the grace period); with no grace it takes them, and the
// deploy sees it, does not switch and deletes the manifest it wrote.
func TestCollectDuringDeploy(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	var during Collected
	r2, err := deployDir(t, s, dir, hooks{phase: func(p Phase) {
		if p == Uploaded {
			during = collect(t, s, CollectOptions{Keep: 1, Grace: time.Hour})
		}
	}})
	if err != nil {
		t.Fatalf("deploy with a --keep run between upload and manifest: %v", err)
	}
	if during.Objects != 0 || during.YoungObjects != 1 {
		t.Errorf("keep during the deploy: %+v; want the new object kept as young", during)
	}
	st := wantOnly(t, s, r2.ID, r2.ID, r1.ID)
	if !maps.Equal(mapSet(st.objects), sumsOf(t, s, r2.ID)) || len(st.objects) != 5 {
		t.Errorf("objects %v, want r2's 5", slices.Sorted(maps.Keys(st.objects)))
	}

	time.Sleep(1100 * time.Millisecond)
	conformance.WriteTree(t, dir, map[string]string{"index.html": "<h1>three</h1>"})
	_, err = deployDir(t, s, dir, hooks{phase: func(p Phase) {
		if p == Uploaded {
			during = collect(t, s, CollectOptions{Keep: 1})
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "the object of index.html is missing after the upload") {
		t.Fatalf("deploy whose object was collected before its manifest: %v", err)
	}
	if during.Objects != 1 {
		t.Errorf("keep with no grace during the deploy: %+v; want the new object deleted", during)
	}
	// The pointer did not move, and the failed deploy took its manifest
	// back: a version with a hole is no version (--list would show it as
	// the newest, and --keep N count it among the N kept).
	wantOnly(t, s, r2.ID, r2.ID)
}

// storeThrough starts a real store, and a proxy to it that mid makes of
// the handler passing requests on; it returns the store reached directly
// and through the proxy, whose client gives up on a request that makes no
// progress for timeout (0 for the default).
func storeThrough(t *testing.T, timeout time.Duration, mid func(next http.Handler) http.Handler) (direct, proxied Store) {
	t.Helper()
	direct, s3 := testStore(t)
	target, _ := url.Parse("http://" + s3.Endpoint)
	srv := httptest.NewServer(mid(httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(srv.Close)
	c, err := s3conn.Options{
		Endpoint: srv.URL, Region: "us-east-1", PathStyle: true, Timeout: timeout,
		Env: []string{"AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3.SecretKey},
	}.Client()
	if err != nil {
		t.Fatal(err)
	}
	return direct, Store{Client: c, Loc: direct.Loc}
}

// faultyProxy stands between the client and the real store: the first
// PUT of each object fails, by a 503 SlowDown or by the connection
// dropped halfway through the body; the rest pass. It counts the PUTs.
type faultyProxy struct {
	next  http.Handler
	drop  bool // drop the connection rather than answer 503
	mu    sync.Mutex
	puts  map[string]int
	fails int
}

func (p *faultyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/.weft/objects/") {
		p.mu.Lock()
		p.puts[r.URL.Path]++
		first := p.puts[r.URL.Path] == 1
		if first {
			p.fails++
		}
		p.mu.Unlock()
		if first {
			if p.drop {
				io.CopyN(io.Discard, r.Body, 10)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
	}
	p.next.ServeHTTP(w, r)
}

// TestUploadRetried: an upload that fails on a transient error (503,
// a connection dropped mid-body) is sent again, from the file's start,
// and the deploy succeeds with every object whole.
func TestUploadRetried(t *testing.T) {
	for _, drop := range []bool{false, true} {
		name := "SlowDown"
		if drop {
			name = "Dropped"
		}
		t.Run(name, func(t *testing.T) {
			var p *faultyProxy
			direct, s := storeThrough(t, 0, func(next http.Handler) http.Handler {
				p = &faultyProxy{next: next, drop: drop, puts: map[string]int{}}
				return p
			})
			dir := t.TempDir()
			conformance.WriteTree(t, dir, site1)
			conformance.WriteTree(t, dir, map[string]string{"big.bin": strings.Repeat("weft deploy ", 100_000)}) // 1.2 MB: many chunks
			res := mustDeploy(t, s, dir)
			if res.Uploaded != 5 || p.fails != 5 {
				t.Errorf("uploaded %d objects, %d first attempts failed; want 5 and 5", res.Uploaded, p.fails)
			}
			for path, n := range p.puts {
				if n != 2 {
					t.Errorf("%s: %d PUTs, want 2", path, n)
				}
			}
			st := wantOnly(t, direct, res.ID, res.ID) // every object's bytes hash to its name
			if !maps.Equal(mapSet(st.objects), sumsOf(t, direct, res.ID)) {
				t.Errorf("objects %v, want the version's", slices.Sorted(maps.Keys(st.objects)))
			}
		})
	}
}

// TestMultipart: a file larger than one part (16 MiB) goes up in parts
// and arrives whole; changed after it was hashed, its upload is aborted
// at the last part and no object appears.
func TestMultipart(t *testing.T) {
	s, _ := testStore(t)
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), (16<<20)/16+1000)
	conformance.WriteTree(t, dir, map[string]string{"index.html": "hi", "big.bin": string(big)})
	r1 := mustDeploy(t, s, dir)
	if st := wantOnly(t, s, r1.ID, r1.ID); st.objects[sum(string(big))] != string(big) {
		t.Fatal("the large object is not whole")
	}
	time.Sleep(1100 * time.Millisecond)
	big[len(big)-1] = '!'
	conformance.WriteTree(t, dir, map[string]string{"big.bin": string(big)})
	_, err := deployDir(t, s, dir, hooks{upload: func(name string) {
		big[len(big)-1] = '?' // same size, other bytes, in the last part
		conformance.WriteTree(t, dir, map[string]string{"big.bin": string(big)})
	}})
	if !errors.Is(err, errChanged) {
		t.Fatalf("deploy of a large file changed after it was hashed: %v", err)
	}
	st := wantOnly(t, s, r1.ID, r1.ID)
	if len(st.objects) != 2 {
		t.Errorf("%d objects, want the first version's 2", len(st.objects))
	}
}

// TestBadPointer: a pointer that names no version is listed as damaged;
// --keep refuses to guess what is served; a rollback or a deploy
// replaces it.
func TestBadPointer(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	ctx := context.Background()
	if err := s.put(ctx, manifest.CurrentKey(s.Loc.Prefix), []byte("../../etc/passwd"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	l, err := List(ctx, s)
	if err != nil || !errors.Is(l.PointerErr, ErrBadPointer) || l.Current != "" || len(l.Versions) != 1 || l.Versions[0].Current {
		t.Errorf("list with a damaged pointer: %+v, %v", l, err)
	}
	if _, err := Collect(ctx, s, CollectOptions{Keep: 1}); !errors.Is(err, ErrBadPointer) {
		t.Errorf("--keep with a damaged pointer: %v", err)
	}
	var out strings.Builder
	if _, err := Rollback(ctx, s, r1.ID, &out); err != nil || !strings.Contains(out.String(), "(was a damaged pointer)") {
		t.Errorf("rollback over a damaged pointer: %v\n%s", err, out.String())
	}
	wantOnly(t, s, r1.ID, r1.ID)
	if err := s.put(ctx, manifest.CurrentKey(s.Loc.Prefix), []byte("garbage"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	r2 := mustDeploy(t, s, dir)
	if r2.Previous != "" {
		t.Errorf("previous %q over a damaged pointer", r2.Previous)
	}
	wantOnly(t, s, r2.ID, r2.ID, r1.ID)
}

// TestStoreStalls: a store that stops mid-answer (the body of a GET never
// ends) or mid-request (it stops reading an upload's body) fails the
// command within the client's timeout, never hangs it; the pointer does
// not move. (The test's own bound, a minute, only catches a hang.)
func TestStoreStalls(t *testing.T) {
	// quit is closed as a subtest ends, before its proxy closes.
	stall := func(quit chan struct{}, match func(r *http.Request) bool, readNothing bool) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !match(r) {
					next.ServeHTTP(w, r)
					return
				}
				if readNothing {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						defer conn.Close()
					}
				} else {
					w.Header().Set("Content-Length", "100")
					w.Header().Set("Last-Modified", "Wed, 02 Dec 2026 00:00:00 GMT")
					w.WriteHeader(http.StatusOK)
					io.WriteString(w, "2026")
					http.NewResponseController(w).Flush()
				}
				select {
				case <-r.Context().Done(): // the client gave up
				case <-quit:
				}
			})
		}
	}
	isCurrent := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/.weft/current")
	}
	isLargePut := func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.ContentLength > 1<<20
	}
	bounded := func(t *testing.T, what string, f func() error) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			t.Fatalf("%s still running after a minute: hung on a stalled store", what)
			return nil
		}
	}
	t.Run("CurrentBody", func(t *testing.T) {
		quit := make(chan struct{})
		_, s := storeThrough(t, time.Second, stall(quit, isCurrent, false))
		t.Cleanup(func() { close(quit) })
		err := bounded(t, "List", func() error { _, err := List(context.Background(), s); return err })
		if err == nil || !strings.Contains(err.Error(), "did not answer in time") {
			t.Errorf("List with the pointer's body stalled: %v", err)
		}
	})
	t.Run("UploadBody", func(t *testing.T) {
		quit := make(chan struct{})
		direct, s := storeThrough(t, time.Second, stall(quit, isLargePut, true))
		t.Cleanup(func() { close(quit) })
		dir := t.TempDir()
		// Larger than what the loopback's socket buffers take in, so the
		// client's writes block once the store stops reading.
		conformance.WriteTree(t, dir, map[string]string{"index.html": "hi", "big.bin": strings.Repeat("weft", 12<<20)})
		err := bounded(t, "Deploy", func() error { _, err := deployDir(t, s, dir, hooks{}); return err })
		if err == nil || !strings.Contains(err.Error(), "did not answer in time") {
			t.Errorf("deploy with the store not reading an upload: %v", err)
		}
		wantOnly(t, direct, "")
	})
}

// TestCollectRacingDeploy: a deploy that runs to its end while --keep is
// between reading the manifests and deleting objects, and reuses an old
// object no version kept named (so --keep counted it as garbage), keeps
// that object: the version the pointer now names is whole.
func TestCollectRacingDeploy(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	ctx := context.Background()
	conformance.WriteTree(t, dir, map[string]string{"css/site.css": "p{}"})
	r2 := mustDeploy(t, s, dir)
	// Back to site1's css/site.css: its object, named only by r1, is
	// reused by the deploy that runs while --keep 1 deletes r1.
	conformance.WriteTree(t, dir, map[string]string{"css/site.css": site1["css/site.css"]})
	time.Sleep(1100 * time.Millisecond)
	var r3 Result
	res, err := Collect(ctx, s, CollectOptions{Keep: 1, beforeDelete: func() {
		r3 = mustDeploy(t, s, dir)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Reused != 5 || r3.Uploaded != 0 {
		t.Fatalf("the racing deploy: %+v; want every object reused", r3)
	}
	if !slices.Equal(res.Versions, []string{r1.ID}) {
		t.Errorf("collected versions %v, want %s's", res.Versions, r1.ID)
	}
	st := wantOnly(t, s, r3.ID, r3.ID, r2.ID)
	for h := range sumsOf(t, s, r3.ID) {
		if _, ok := st.objects[h]; !ok {
			t.Errorf("object %s of the current version %s deleted by --keep", h, r3.ID)
		}
	}
}

// TestCollectRacingRollback: a rollback, while --keep is between reading
// the manifests and deleting objects, to a version whose manifest --keep
// has just deleted: --keep deletes no object (the servers may be on that
// version) and says why.
func TestCollectRacingRollback(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	ctx := context.Background()
	conformance.WriteTree(t, dir, map[string]string{"css/site.css": "p{}"})
	r2 := mustDeploy(t, s, dir)
	var rolled error
	_, err := Collect(ctx, s, CollectOptions{Keep: 1, beforeDelete: func() {
		// r1's manifest is gone: switch to it as a rollback that read it
		// a moment before would.
		rolled = s.setCurrent(ctx, r1.ID)
	}})
	if rolled != nil {
		t.Fatal(rolled)
	}
	if err == nil || !strings.Contains(err.Error(), "no object deleted") {
		t.Errorf("--keep with the pointer switched to a version it deleted: %v", err)
	}
	st := readState(t, s)
	for h := range sumsOf(t, s, r2.ID) {
		delete(st.objects, h)
	}
	if _, ok := st.objects[sum(site1["css/site.css"])]; !ok {
		t.Error("the object only the version now current named was deleted")
	}
}

// TestInterruptedSwitch: a deploy or rollback interrupted while its
// switch of the pointer is on its way either finishes the switch and
// succeeds, or fails with the pointer where it was: never fails (which
// weft deploy reports as "the pointer names what it named before") with
// the pointer switched.
func TestInterruptedSwitch(t *testing.T) {
	var cancel context.CancelFunc
	var mu sync.Mutex
	switched := make(chan struct{}, 3) // a switch passed on to the store
	direct, s := storeThrough(t, 0, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/.weft/current") {
				body, err := io.ReadAll(r.Body) // the switch is sent whole
				if err != nil {
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				mu.Lock()
				if cancel != nil {
					cancel() // the user's ^C, with the switch sent
				}
				mu.Unlock()
				select {
				case <-r.Context().Done(): // the client gave up on it
				case <-time.After(500 * time.Millisecond):
				}
				// It reaches the store all the same (w without CloseNotify,
				// so the proxy does not stop at the client's going).
				r = r.WithContext(context.WithoutCancel(r.Context()))
				w = struct{ http.ResponseWriter }{w}
				defer func() { switched <- struct{}{} }()
			}
			next.ServeHTTP(w, r)
		})
	})
	dir := t.TempDir()
	conformance.WriteTree(t, dir, site1)
	r1 := mustDeploy(t, direct, dir)
	time.Sleep(1100 * time.Millisecond)
	conformance.WriteTree(t, dir, map[string]string{"index.html": "<h1>two</h1>"})

	interrupted := func() context.Context {
		ctx, c := context.WithCancel(context.Background())
		mu.Lock()
		cancel = c
		mu.Unlock()
		return ctx
	}
	check := func(what string, err error, want string) {
		t.Helper()
		select {
		case <-switched:
		case <-time.After(time.Minute):
			t.Fatalf("%s: the switch never reached the store", what)
		}
		cur, cerr := direct.current(context.Background())
		if cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil && cur == want {
			t.Errorf("%s: failed (%v) with the pointer switched to %s", what, err, cur)
		}
		if err == nil && cur != want {
			t.Errorf("%s: succeeded with the pointer on %s, want %s", what, cur, want)
		}
	}
	res, err := Deploy(interrupted(), s, Options{Site: site.Config{Root: dir}})
	r2 := res.ID
	if r2 == "" {
		l, lerr := List(context.Background(), direct)
		if lerr != nil || len(l.Versions) != 2 {
			t.Fatalf("versions after the interrupted deploy: %+v, %v", l, lerr)
		}
		r2 = l.Versions[0].ID
	}
	check("deploy", err, r2)
	if err := direct.setCurrent(context.Background(), r2); err != nil {
		t.Fatal(err)
	}
	_, err = Rollback(interrupted(), s, r1.ID, nil)
	check("rollback", err, r1.ID)
}

// TestSwappedBeforeUpload: a file replaced, between the scan and its
// upload, by a FIFO (whose open would wait for a writer forever) or by a
// link out of the folder fails the deploy at once, in one line, with
// nothing of it sent and the pointer where it was.
func TestSwappedBeforeUpload(t *testing.T) {
	s, _, dir, r1 := deployedOnce(t)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("<h1>two</h1>"), 0o600); err != nil { // even the hashed bytes
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		swap func(p string) error
	}{
		{"FIFO", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"LinkOut", func(p string) error { return os.Symlink(outside, p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := deployDir(t, s, dir, hooks{upload: func(name string) {
					if name == "index.html" {
						p := filepath.Join(dir, "index.html")
						os.Remove(p)
						if err := tc.swap(p); err != nil {
							t.Error(err)
						}
					}
				}})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("deploy still running after a minute: hung opening what replaced a file")
			}
			if err == nil || !strings.Contains(err.Error(), "uploading index.html:") || strings.Contains(err.Error(), "\n") {
				t.Errorf("deploy with index.html swapped before its upload: %v", err)
			}
			if st := wantOnly(t, s, r1.ID, r1.ID); st.objects[sum("<h1>two</h1>")] != "" {
				t.Error("the bytes of what replaced index.html were stored")
			}
			os.Remove(filepath.Join(dir, "index.html"))
			conformance.WriteTree(t, dir, map[string]string{"index.html": "<h1>two</h1>"})
		})
	}
}
