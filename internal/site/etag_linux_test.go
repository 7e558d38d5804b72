//go:build linux && (amd64 || arm64)

package site_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/site"
)

var strongETag = regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+"$`)

// TestETagAnyDate: files dated before 1970 or after 2262 (where UnixNano
// overflows) get strong ETags, distinct for distinct times, that
// If-None-Match matches (issue 13 item 17).
func TestETagAnyDate(t *testing.T) {
	dates := []time.Time{
		time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2300, 6, 1, 0, 0, 0, 5, time.UTC),
		time.Date(2400, 6, 1, 0, 0, 0, 5, time.UTC),
	}
	// Some file systems (ext4 with small inodes) keep 32-bit times; tmpfs
	// keeps them all.
	root := ""
	for _, parent := range []string{t.TempDir(), "/dev/shm"} {
		dir, err := os.MkdirTemp(parent, "etag-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		kept := true
		for i, d := range dates {
			p := filepath.Join(dir, fmt.Sprint(i))
			os.WriteFile(p, []byte("same\n"), 0o644)
			// Not os.Chtimes: it passes the time as UnixNano.
			ts := syscall.Timespec{Sec: d.Unix(), Nsec: int64(d.Nanosecond())}
			syscall.UtimesNano(p, []syscall.Timespec{ts, ts})
			if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(d) {
				kept = false
			}
		}
		if kept {
			root = dir
			break
		}
	}
	if root == "" {
		t.Skip("no file system here keeps dates past 2262")
	}
	addr := listen(t, openSite(t, root, site.CacheConfig{}))
	seen := map[string]int{}
	for i, d := range dates {
		r := get(t, addr, fmt.Sprintf("/%d", i))
		etag := r.header["etag"]
		if !strongETag.MatchString(etag) {
			t.Errorf("%v: ETag %q is not a strong validator", d, etag)
		}
		if j, dup := seen[etag]; dup {
			t.Errorf("%v and %v share the ETag %q", dates[j], d, etag)
		}
		seen[etag] = i
		if r := get(t, addr, fmt.Sprintf("/%d", i), "If-None-Match: "+etag+"\r\n"); r.status != 304 {
			t.Errorf("%v: If-None-Match of its own ETag: %d", d, r.status)
		}
	}
}
