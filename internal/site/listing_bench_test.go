package site

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/weft-server/weft/internal/http1"
)

// BenchmarkListing100k lists a folder of 100,000 files (names like
// "file-12345.txt", sizes varied): the time and allocations of one request,
// the bytes the sorted rows hold and the size of the page sent.
func BenchmarkListing100k(b *testing.B) {
	const n = 100_000
	cfg := Config{Root: b.TempDir(), Listing: true}
	dir := filepath.Join(cfg.Root, "big")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		// Sizes 0 to 96 bytes: creating 100,000 files stays quick.
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%d.txt", (i*7919)%n)), make([]byte, i%97), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	st, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	l, err := st.listDir("big", true)
	if err != nil || len(l.rows) != n {
		b.Fatalf("listed %v, %v", l, err)
	}
	kept := float64(cap(l.names) + cap(l.rows)*int(unsafe.Sizeof(listRow{})))
	l.Close()

	for _, tc := range []struct{ name, query, accept string }{
		{"HTML/name", "", ""},
		{"HTML/size-desc", "sort=size&order=desc", ""},
		{"HTML/page20", "page=20", ""},
		{"JSON", "", "application/json"},
		{"Text", "sort=modified", "text/plain"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := &http1.Request{Method: http1.MethodGet, Path: []byte("/big/"), Minor: 1}
			if tc.query != "" {
				req.Query = []byte(tc.query)
			}
			if tc.accept != "" {
				req.Headers = []http1.Header{{Name: []byte("Accept"), Value: []byte(tc.accept)}}
			}
			var page int
			b.ReportAllocs()
			for b.Loop() {
				var resp http1.Response
				st.ServeHTTP1(req, &resp)
				if resp.Status != 200 {
					b.Fatalf("status %d", resp.Status)
				}
				page = len(resp.Body)
			}
			b.ReportMetric(kept/(1<<20), "MiB-rows")
			b.ReportMetric(float64(page)/(1<<20), "MiB-page")
		})
	}
}
