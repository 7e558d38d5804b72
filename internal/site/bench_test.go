package site

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// smallTree writes n files of 16 bytes as dNNN/fNNNNNN, 1000 to a directory,
// and returns their request paths.
func smallTree(b *testing.B, n int) (root string, paths [][]byte) {
	root = b.TempDir()
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		name := fmt.Sprintf("f%06d", i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte("0123456789abcdef"), 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, fmt.Appendf(nil, "/d%03d/%s", i/1000, name))
	}
	return root, paths
}

func serveOnce(st *Site, path []byte) {
	req := http1.Request{Method: http1.MethodGet, Path: path, Minor: 1}
	var resp http1.Response
	st.ServeHTTP1(&req, &resp)
	if resp.Closer != nil {
		resp.Closer.Close()
	}
}

// BenchmarkCacheInsertEvict measures a request that misses a full cache:
// open, read, insert, evict, over 220,000 files on disk requested in a
// cycle, with the cache sized for 20,000 and for 200,000 entries. The cost
// per insert must not grow with the number of entries.
func BenchmarkCacheInsertEvict(b *testing.B) {
	const files = 220_000
	root, paths := smallTree(b, files)
	for _, n := range []int{20_000, 200_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			probe, err := Open(Config{Root: root, Cache: CacheConfig{Validity: time.Hour, NoWatch: true}})
			if err != nil {
				b.Fatal(err)
			}
			serveOnce(probe, paths[0])
			_, cost, _ := probe.cache.stats()
			probe.Close()
			st, err := Open(Config{Root: root, Cache: CacheConfig{MaxBytes: int64(n) * cost, Validity: time.Hour, NoWatch: true}})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			for _, p := range paths[:n] {
				serveOnce(st, p)
			}
			next := n
			b.ResetTimer()
			for b.Loop() {
				serveOnce(st, paths[next%files])
				next++
			}
			b.StopTimer()
			entries, _, _ := st.cache.stats()
			b.ReportMetric(float64(entries), "entries")
		})
	}
}

// BenchmarkCacheLookupParallel measures cached GETs from every P at once,
// each cycling over 1,000 cached files, or all asking for one.
func BenchmarkCacheLookupParallel(b *testing.B) {
	root, paths := smallTree(b, 1000)
	st, err := Open(Config{Root: root, Cache: CacheConfig{Validity: time.Hour, NoWatch: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, p := range paths {
		serveOnce(st, p)
	}
	for _, same := range []bool{false, true} {
		b.Run(fmt.Sprintf("samefile=%v", same), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := http1.Request{Method: http1.MethodGet, Minor: 1}
				var resp http1.Response
				i := 0
				for pb.Next() {
					req.Path = paths[0]
					if !same {
						req.Path = paths[i%len(paths)]
					}
					i++
					resp.Reset()
					if !st.ServeFromMemory(&req, &resp) {
						b.Fatal("miss")
					}
				}
			})
		})
	}
}

// BenchmarkCacheInsertEvictOnly measures the cache's own share of a miss
// on a full cache: insert one entry, evict one, with 20,000 and 200,000
// entries held (entries made in memory, no disk; the cost includes making
// the entry).
func BenchmarkCacheInsertEvictOnly(b *testing.B) {
	for _, n := range []int{20_000, 200_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			names := make([]string, 2*n)
			for i := range names {
				names[i] = fmt.Sprintf("d%03d/f%06d", i/1000, i)
			}
			probe := testEntry(names[0], 16)
			probe.key = probe.name
			probe.charge()
			c := newCache(CacheConfig{MaxBytes: int64(n) * probe.cost, NoWatch: true}, b.TempDir())
			defer c.close()
			for _, name := range names[:n] {
				c.insert(name, testEntry(name, 16))
			}
			next := n
			b.ResetTimer()
			for b.Loop() {
				name := names[next%len(names)]
				c.insert(name, testEntry(name, 16))
				next++
			}
			b.StopTimer()
			got, _, _ := c.stats()
			b.ReportMetric(float64(got), "entries")
		})
	}
}
