// Regression tests from an adversarial review of the representations
// (issue 8). A test's comment describes the defect it caught, in the code
// as it was then; every one passes since the fixes that followed.

package site

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/codec"
)

// rchar is the bytes this process has read through read(2)-like calls.
func rchar(t testing.TB) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Skip("no rchar")
	return 0
}

// TestContentETagHashedOncePerVersion: with --etag content, the hash
// of a file is "computed once per file version" (issue 8), but it is
// computed inline in prepare (site.go serveFile → rep.go prepare →
// policy.go etagOf → hashes.sum), with no single flight: N clients that
// ask at once for a large file not yet hashed each read and hash all of
// it, each holding a disk worker meanwhile (epoll: 4 per loop), and each
// HEAD or 304 waits for a full read. Measured with HEAD (no body read) by
// the bytes this process reads.
func TestContentETagHashedOncePerVersion(t *testing.T) {
	const size = 32 << 20
	const clients = 8
	root := t.TempDir()
	f, err := os.Create(filepath.Join(root, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size) // sparse: the page cache, not the disk, is read
	f.Close()
	st := openReview(t, Config{Root: root, ETag: ETagContent})

	before := rchar(t)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var tags []string
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			w := serveRaw(t, st, "HEAD", "/big.bin").send()
			mu.Lock()
			tags = append(tags, w.hdr["etag"])
			mu.Unlock()
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	read := rchar(t) - before
	t.Logf("%d concurrent HEADs of a %d MiB file: read %d MiB in %v; tags %q", clients, size>>20, read>>20, time.Since(t0), tags[0])
	if read > 2*size {
		t.Errorf("%d concurrent HEADs read the file %.1f times to hash it: the hash of one version is computed once per concurrent miss", clients, float64(read)/size)
	}
}

// TestUnfittableEntryFlushesOpenFiles: an entry that needs more
// descriptors than the cache may hold (a large file and its three large
// sidecars: 4, with --cache-max-open 3) can never be cached, yet insert
// evicts every open file before it gives up (cache.go insert: the
// c.open+fds > c.maxOpen loop has no early "cannot fit" exit like the
// e.cost > maxBytes/4 one). Each request for it empties the ring of open
// files. Check fds > c.maxOpen (or a quarter of it, as for bytes) first.
func TestUnfittableEntryFlushesOpenFiles(t *testing.T) {
	files := map[string][]byte{}
	for i := range 3 {
		files["big"+strconv.Itoa(i)+".bin"] = bigText(40 << 10)
	}
	txt := bigText(96 << 10)
	files["four.txt"] = txt
	for _, c := range []codec.Coding{codec.Brotli, codec.Zstd, codec.Gzip} {
		files["four.txt"+c.Ext()] = mustCompress(t, c, txt)
	}
	root := reviewTree(t, files)
	st := openReview(t, Config{Root: root, Cache: CacheConfig{MaxOpen: 3, Validity: time.Hour}})
	for i := range 3 {
		serveRaw(t, st, "GET", "/big"+strconv.Itoa(i)+".bin").send()
	}
	if n, _, open := st.CacheStats(); n != 3 || open != 3 {
		t.Fatalf("%d entries, %d open", n, open)
	}
	serveRaw(t, st, "GET", "/four.txt", "Accept-Encoding: gzip").send()
	if n, _, open := st.CacheStats(); n != 3 {
		t.Errorf("after one request for a file that cannot be cached, %d entries (%d open) of the 3 that were", n, open)
	}
}
