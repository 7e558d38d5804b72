package site

import (
	"os"
	"path/filepath"
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
