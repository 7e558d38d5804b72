package site

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// TestValidityBoundWithoutWatcher: with no file-system notifications, a
// changed file stops being served from memory once the validity period
// has passed, and the disk path then serves the new content.
func TestValidityBoundWithoutWatcher(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(p, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const validity = 200 * time.Millisecond
	st, err := Open(Config{Root: dir, Cache: CacheConfig{Validity: validity, NoWatch: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	req := &http1.Request{Method: http1.MethodGet, Path: []byte("/f.txt"), Minor: 1}
	body := func(r *http1.Response) string {
		defer func() {
			if r.Closer != nil {
				r.Closer.Close()
			}
		}()
		return string(r.Body)
	}
	var resp http1.Response
	st.ServeHTTP1(req, &resp) // fills the cache
	if got := body(&resp); got != "one\n" {
		t.Fatalf("first: %q", got)
	}
	resp.Reset()
	if !st.ServeFromMemory(req, &resp) || body(&resp) != "one\n" {
		t.Fatal("a fresh entry was not served from memory")
	}
	changed := time.Now()
	if err := os.WriteFile(p, []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for {
		resp.Reset()
		// The entry was last checked before the change, so a lookup that
		// starts more than validity after the change must miss: no
		// scheduling delay can make this check fail wrongly.
		before := time.Now()
		if !st.ServeFromMemory(req, &resp) {
			break
		}
		if got := body(&resp); got != "one\n" {
			t.Fatalf("memory served %q", got)
		}
		if d := before.Sub(changed); d > validity {
			t.Fatalf("stale entry served from memory %v after the change (validity %v)", d, validity)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp.Reset()
	st.ServeHTTP1(req, &resp)
	if got := body(&resp); got != "two\n" {
		t.Fatalf("after the validity period: %q", got)
	}
}

func testEntry(name string, size int) *entry {
	return &entry{name: name, body: make([]byte, size)}
}

func has(c *cache, key string) bool {
	e := c.lookup([]byte(key), time.Now(), false)
	if e != nil {
		e.Close()
	}
	return e != nil
}

// TestCacheEvictionOrder: CLOCK evicts in insertion order the entries not
// used since the hand last passed, and spares the ones that were.
func TestCacheEvictionOrder(t *testing.T) {
	probe := testEntry("n00", 1024)
	probe.key = probe.name
	probe.charge()
	c := newCache(CacheConfig{MaxBytes: 20 * probe.cost, NoWatch: true}, t.TempDir())
	defer c.close()
	name := func(i int) string { return fmt.Sprintf("n%02d", i) }
	for i := range 20 {
		c.insert(name(i), testEntry(name(i), 1024))
	}
	if n, b, _ := c.stats(); n != 20 || b != 20*probe.cost {
		t.Fatalf("%d entries, %d bytes after 20 inserts", n, b)
	}
	for i := range 5 {
		if !has(c, name(i)) {
			t.Fatalf("%s missing", name(i))
		}
	}
	for i := 20; i < 30; i++ {
		c.insert(name(i), testEntry(name(i), 1024))
	}
	for i := range 30 {
		want := i < 5 || i >= 15
		if got := has(c, name(i)); got != want {
			t.Errorf("%s cached: %v, want %v", name(i), got, want)
		}
	}
	if n, b, _ := c.stats(); n != 20 || b > c.maxBytes {
		t.Errorf("%d entries, %d bytes, budget %d", n, b, c.maxBytes)
	}
}

// TestCacheInvalidateIndex: invalidating a name drops the entries of that
// file (under every key that serves it) or of that directory's subtree,
// and nothing else.
func TestCacheInvalidateIndex(t *testing.T) {
	c := newCache(CacheConfig{NoWatch: true}, t.TempDir())
	defer c.close()
	for _, kn := range [][2]string{
		{"d/x", "d/x"}, {"d/sub/y", "d/sub/y"}, {"d/sub/", "d/sub/index.html"}, {"d/sub/index.html", "d/sub/index.html"},
		{"dd/z", "dd/z"}, {"d.txt", "d.txt"}, {"./", "index.html"}, {"index.html", "index.html"},
	} {
		c.insert(kn[0], testEntry(kn[1], 10))
	}
	check := func(want ...string) {
		t.Helper()
		for _, k := range []string{"d/x", "d/sub/y", "d/sub/", "d/sub/index.html", "dd/z", "d.txt", "./", "index.html"} {
			if got := has(c, k); got != slices.Contains(want, k) {
				t.Errorf("%s cached: %v", k, got)
			}
		}
	}
	c.invalidate("d/sub/index.html")
	check("d/x", "d/sub/y", "dd/z", "d.txt", "./", "index.html")
	c.invalidate("d/nothing")
	c.invalidate("d")
	check("dd/z", "d.txt", "./", "index.html")
	c.invalidate("index.html")
	check("dd/z", "d.txt")
	c.invalidate("")
	check()
	if len(c.index.kids) != 0 || len(c.index.entries) != 0 {
		t.Errorf("index not empty: %d nodes, %d entries", len(c.index.kids), len(c.index.entries))
	}
	if n, b, _ := c.stats(); n != 0 || b != 0 {
		t.Errorf("%d entries, %d bytes left", n, b)
	}
}

// TestRefreshAhead: an entry in demand is confirmed by one check once it
// has lived half its validity, and so is still served from memory after
// the validity it was read with has run out, instead of every request
// then going the disk path; a file that changed is not (see
// TestValidityBoundWithoutWatcher for the bound).
func TestRefreshAhead(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const validity = 400 * time.Millisecond
	st, err := Open(Config{Root: dir, Cache: CacheConfig{Validity: validity, NoWatch: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	req := &http1.Request{Method: http1.MethodGet, Path: []byte("/f.txt"), Minor: 1}
	serve := func(memory bool) bool {
		var resp http1.Response
		ok := true
		if memory {
			ok = st.ServeFromMemory(req, &resp)
		} else {
			st.ServeHTTP1(req, &resp)
		}
		if resp.Closer != nil {
			resp.Closer.Close()
		}
		return ok
	}
	checked := func() int64 {
		e := st.cache.lookup([]byte("f.txt"), time.Now(), false)
		if e == nil {
			t.Fatal("entry gone")
		}
		defer e.Close()
		return e.checked.Load()
	}
	for attempt := 0; ; attempt++ {
		if attempt == 5 {
			t.Fatal("no conclusive attempt in 5: this machine stalled the test for over half the validity each time")
		}
		serve(false) // read (again) by the disk path
		read := checked()
		time.Sleep(validity/2 + 50*time.Millisecond)
		if !serve(true) { // past half: still fresh, and starts the check
			continue
		}
		var confirmed int64
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if confirmed = checked(); confirmed != read {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("entry not confirmed within 10s of passing half its validity")
			}
		}
		time.Sleep(time.Until(time.Unix(0, read).Add(validity + 20*time.Millisecond)))
		before := time.Now()
		hit := serve(true)
		if before.After(time.Unix(0, confirmed).Add(validity)) {
			continue // the confirmation has run out too: inconclusive
		}
		if !hit {
			t.Fatalf("entry confirmed %v after it was read was not served from memory %v after it was read (validity %v)",
				time.Duration(confirmed-read), before.Sub(time.Unix(0, read)), validity)
		}
		break
	}
	// A change is found by the next confirmation, which drops the entry.
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("two, longer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); serve(true); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("changed file still served from memory 10s later")
		}
	}
}

// TestConfirmCleanURLShadowed: under clean URLs, "/about" serves
// about.html only while nothing named "about" exists. Once a file "about"
// appears, the entry cached under the key "about" (of the file
// about.html, which has not changed) must stop being served within the
// validity period, with the watcher or without: the confirmation of an
// entry in demand must not keep it fresh for ever because its own file is
// unchanged. (The watcher reports "about", which names no cached file.)
func TestConfirmCleanURLShadowed(t *testing.T) {
	for _, noWatch := range []bool{true, false} {
		t.Run(fmt.Sprintf("NoWatch=%v", noWatch), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "about.html"), []byte("page\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			const validity = 200 * time.Millisecond
			st, err := Open(Config{Root: dir, CleanURLs: true, Cache: CacheConfig{Validity: validity, NoWatch: noWatch}})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			req := &http1.Request{Method: http1.MethodGet, Path: []byte("/about"), Minor: 1}
			var resp http1.Response
			st.ServeHTTP1(req, &resp)
			if resp.Status != 200 || string(resp.Body) != "page\n" {
				t.Fatalf("/about: %d %q, want about.html's page", resp.Status, resp.Body)
			}
			if err := os.WriteFile(filepath.Join(dir, "about"), []byte("file\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Requests keep the entry in demand; it must stop being
			// served from memory.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				var resp http1.Response
				if !st.ServeFromMemory(req, &resp) {
					break
				}
				if string(resp.Body) != "page\n" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("about.html still served from memory for /about 10s after a file \"about\" appeared (validity %v)", validity)
				}
			}
			resp = http1.Response{}
			st.ServeHTTP1(req, &resp)
			if resp.Status != 200 || string(resp.Body) != "file\n" {
				t.Fatalf("/about on the disk path: %d %q, want the file \"about\"", resp.Status, resp.Body)
			}
		})
	}
}
