package site_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/site"
)

// aliases returns n distinct spellings of the request path of the file
// "a" (in the directory dir, if not ""): leading slashes plain and as %2F,
// in growing numbers, and the name as "a" or "%61".
func aliases(dir string, n int) []string {
	out := make([]string, n)
	for i := range out {
		p := "/" + strings.Repeat("%2F", i%60) + strings.Repeat("/", i/60)
		if dir != "" {
			p += dir + "//"
		}
		if i%2 == 0 {
			p += "a"
		} else {
			p += "%61"
		}
		out[i] = p
	}
	return out
}

func openSite(t testing.TB, root string, cache site.CacheConfig) *site.Site {
	t.Helper()
	st, err := site.Open(site.Config{Root: root, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestCacheAliasesShareOneEntry attacks the cache with thousands of
// spellings of one small file's path over a real socket (issue 13 item 6):
// they must leave exactly one entry, charged a few KiB, not one per spelling.
func TestCacheAliasesShareOneEntry(t *testing.T) {
	root := t.TempDir()
	body := strings.Repeat("x", 1024)
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	for _, p := range []string{"a", "d/a"} {
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := openSite(t, root, site.CacheConfig{MaxBytes: 2 << 20, Validity: time.Hour})
	addr := listen(t, st)
	paths := append(aliases("", 3000), aliases("d", 3000)...)
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			t.Fatalf("alias %q twice", p)
		}
		seen[p] = true
	}
	for i, r := range pipeline(t, addr, "GET", paths) {
		if r.status != 200 || r.body != body {
			t.Fatalf("%s: %d, %d bytes", paths[i], r.status, len(r.body))
		}
	}
	entries, charged, _ := st.CacheStats()
	if entries != 2 {
		t.Errorf("%d aliases of 2 files left %d cache entries, want 2", len(paths), entries)
	}
	if charged > 2*(1024+4096) {
		t.Errorf("2 files of 1 KiB charged %d bytes", charged)
	}
}

// TestCacheAliasesShareOneDescriptor: a thousand HEAD requests for one
// large file, each with another number of leading slashes, hold one
// descriptor, not one per spelling (issue 13 item 6).
func TestCacheAliasesShareOneDescriptor(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd")
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "big.bin"), make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	st := openSite(t, root, site.CacheConfig{Validity: time.Hour})
	addr := listen(t, st)
	get(t, addr, "/big.bin") // warms the listener's goroutines and the watcher
	before := countFDs(t)
	paths := make([]string, 1000)
	for i := range paths {
		paths[i] = strings.Repeat("/", i+1) + "big.bin"
	}
	for i, r := range pipeline(t, addr, "HEAD", paths) {
		if r.status != 200 || r.header["content-length"] != "262144" {
			t.Fatalf("%s: %d %v", paths[i], r.status, r.header)
		}
	}
	// The test's own connection is closed by now; allow for it lingering.
	if after := countFDs(t); after > before+2 {
		t.Errorf("descriptors went from %d to %d across 1000 spellings of one file", before, after)
	}
	if _, _, open := st.CacheStats(); open != 1 {
		t.Errorf("%d descriptors cached for one file, want 1", open)
	}
}

func countFDs(t testing.TB) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestCacheMemoryBound: with a 2 MiB budget, many distinct files, each
// fetched under long padded spellings, leave a live heap within the budget
// (asserted generously: twice the budget plus 1 MiB) and the charged bytes
// within the budget itself (issue 13 item 6).
func TestCacheMemoryBound(t *testing.T) {
	const budget = 2 << 20
	root := t.TempDir()
	body := strings.Repeat("y", 1024)
	const files = 4000
	for i := range files {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%04d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := openSite(t, root, site.CacheConfig{MaxBytes: budget, Validity: time.Hour, NoWatch: true})
	addr := listen(t, st)
	get(t, addr, "/f0000")
	base := liveHeap()
	paths := make([]string, 0, 2*files)
	for i := range files {
		pad := strings.Repeat("/", 1000+i%1000)
		paths = append(paths, fmt.Sprintf("%sf%04d", pad, i), fmt.Sprintf("%s%%66%04d", pad, i))
	}
	for i, r := range pipeline(t, addr, "GET", paths) {
		if r.status != 200 || len(r.body) != len(body) {
			t.Fatalf("%.40s: %d", paths[i], r.status)
		}
	}
	paths = nil
	grown := liveHeap() - base
	entries, charged, _ := st.CacheStats()
	t.Logf("%d entries charged %d bytes; live heap grew %d bytes (%d per entry)", entries, charged, grown, grown/int64(max(entries, 1)))
	if charged > budget {
		t.Errorf("charged %d bytes, over the budget of %d", charged, budget)
	}
	if grown > charged+1<<20 {
		t.Errorf("live heap grew %d bytes, more than the %d charged: the charge undercounts", grown, charged)
	}
	if grown > 2*budget+1<<20 {
		t.Errorf("live heap grew %d bytes with a budget of %d", grown, budget)
	}
	if entries > files {
		t.Errorf("%d entries for %d files", entries, files)
	}
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestCacheInvalidatedOnChange: with a validity of an hour, only the file
// watcher can tell the cache a file changed; the next request after the
// change must get the new content (from memory once re-cached), for the
// file's own path and for the directory whose index it is.
func TestCacheInvalidatedOnChange(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	p := filepath.Join(root, "d", "index.html")
	if err := os.WriteFile(p, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := openSite(t, root, site.CacheConfig{Validity: time.Hour})
	addr := listen(t, st)
	for _, path := range []string{"/d/index.html", "/d/", "//d//"} {
		if r := get(t, addr, path); r.body != "one\n" {
			t.Fatalf("%s: %q", path, r.body)
		}
	}
	if n, _, _ := st.CacheStats(); n != 2 {
		t.Fatalf("%d entries for a file and its directory, want 2", n)
	}
	if err := os.WriteFile(p, []byte("two!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _, _ := st.CacheStats()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the change was not noticed within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, path := range []string{"/d/index.html", "/d/", "/d/index.html", "/d/"} {
		if r := get(t, addr, path); r.body != "two!\n" {
			t.Fatalf("%s after the change: %q", path, r.body)
		}
	}
	// A directory that is moved away takes its entries with it.
	if err := os.Rename(filepath.Join(root, "d"), filepath.Join(root, "e")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _, _ := st.CacheStats(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rename was not noticed within 10s")
		}
	}
	if r := get(t, addr, "/d/"); r.status != 404 {
		t.Fatalf("/d/ after its directory moved: %d", r.status)
	}
}

// TestCacheDirectorySemantics: keying by the resolved name keeps the
// redirect for a directory without its slash, the 404 for a file with one,
// and dotfiles hidden, whether or not the cache holds the file.
func TestCacheDirectorySemantics(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d", "index.html"), []byte("idx\n"), 0o644)
	os.WriteFile(filepath.Join(root, "f.txt"), []byte("f\n"), 0o644)
	os.WriteFile(filepath.Join(root, ".env"), []byte("secret\n"), 0o644)
	st := openSite(t, root, site.CacheConfig{Validity: time.Hour})
	addr := listen(t, st)
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/d/", 200, "idx\n"},
		{"/d/index.html", 200, "idx\n"},
		{"/d", 301, ""},
		{"//d", 301, ""},
		{"/%64", 301, ""},
		{"/d/index.html/", 404, ""},
		{"/f.txt", 200, "f\n"},
		{"/f.txt/", 404, ""},
		{"/f.txt//", 404, ""},
		{"/.env", 404, ""},
		{"/%2eenv", 404, ""},
	}
	for round := range 3 { // cold, then cached
		for _, tc := range cases {
			r := get(t, addr, tc.path)
			if r.status != tc.status || (tc.body != "" && r.body != tc.body) {
				t.Errorf("round %d: %s: %d %q, want %d %q", round, tc.path, r.status, r.body, tc.status, tc.body)
			}
			if tc.status == 301 && r.header["location"] != "/d/" && r.header["location"] != "/%64/" {
				t.Errorf("%s: Location %q", tc.path, r.header["location"])
			}
		}
	}
}
