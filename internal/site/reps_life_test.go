// Regression tests from an adversarial review of the representations
// (issue 8). A test's comment describes the defect it caught, in the code
// as it was then; every one passes since the fixes that followed.

package site

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/codec"
)

// versions remembers every version of every file written, to check that a
// body decodes to one of them.
type versions struct {
	mu sync.Mutex
	m  map[string][][]byte
}

func (v *versions) add(name string, b []byte) {
	v.mu.Lock()
	v.m[name] = append(v.m[name], b)
	v.mu.Unlock()
}

func (v *versions) has(name string, b []byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, x := range v.m[name] {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// bigText is n bytes of text that compresses to about three quarters:
// its sidecars are larger than 32 KiB and so are held open.
func bigText(n int) []byte {
	raw := make([]byte, n*3/4)
	rand.Read(raw)
	s := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteByte('\n')
		s = s[76:]
	}
	b.WriteString(s)
	return []byte(b.String())[:n]
}

// writeVersion writes a new version of name (by rename, so no reader sees
// half of it) and then, when sidecars, its sidecars, each not older than
// the file.
func writeVersion(t testing.TB, root, name string, body []byte, sidecars []codec.Coding, v *versions) {
	v.add(name, body)
	put := func(p string, b []byte) {
		tmp := filepath.Join(root, ".tmp-"+fmt.Sprint(mrand.Int64()))
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Error(err)
			return
		}
		if err := os.Rename(tmp, filepath.Join(root, p)); err != nil {
			t.Error(err)
		}
	}
	put(name, body)
	for _, c := range sidecars {
		enc, err := codec.Compress(c, codec.Fast, body)
		if err != nil {
			t.Fatal(err)
		}
		put(name+c.Ext(), enc)
	}
}

var aes = []string{"", "gzip", "br", "zstd", "br, gzip", "gzip, deflate, br, zstd", "identity", "*", "br;q=0.5, zstd;q=0.9", "gzip;q=0, *"}

// checkWire checks the headers and the body of one 200 of name against the
// versions written.
var seenMu sync.Mutex

// seen counts the 200s checked by file group and coding.
var seen = map[string]int{}

func checkWire(t testing.TB, name string, w *wire, v *versions, head, mayVary bool) {
	t.Helper()
	seenMu.Lock()
	group := "sidecars"
	if name >= "f6" {
		group = "on the fly"
	}
	seen[group+" "+w.hdr["content-encoding"]]++
	seenMu.Unlock()
	if w.err != nil {
		t.Errorf("%s: reading the body: %v", name, w.err)
		return
	}
	ce := w.hdr["content-encoding"]
	tag := w.hdr["etag"]
	if got := tagCoding(tag); got.Token() != map[string]string{"": "identity"}[ce]+ce {
		t.Errorf("%s: ETag %s for Content-Encoding %q", name, tag, ce)
	}
	// A variant always varies; identity does when the file may be
	// compressed on the fly (not with the cache disabled, nor while its
	// sidecars are stale mid-rewrite).
	if w.hdr["vary"] != "Accept-Encoding" && (ce != "" || mayVary) {
		t.Errorf("%s: Vary %q (Content-Encoding %q)", name, w.hdr["vary"], ce)
	}
	if head {
		return
	}
	if cl := atoi(w.hdr["content-length"]); cl != len(w.body) {
		t.Errorf("%s: Content-Length %d, body %d", name, cl, len(w.body))
	}
	out, _, err := w.decode()
	if err != nil {
		t.Errorf("%s: Content-Encoding %q: body does not decode: %v", name, ce, err)
		return
	}
	if !v.has(name, out) {
		t.Errorf("%s: Content-Encoding %q: %d bytes decode to no version of the file (ETag %s)", name, ce, len(out), tag)
	}
}

// TestDescriptorLifetimes: concurrent clients, some slow (a plan held
// while others are served), ask for files whose three sidecars are held
// open (> 32 KiB), with every Accept-Encoding, while the files and their
// sidecars are rewritten and the cache, allowed 6 descriptors, evicts on
// almost every insert. Every body read must decode to a version of its file
// (a descriptor closed under a response, or reused by another file, fails
// that); at rest the cache's count of descriptors must be the number it
// holds; after Close none may be left.
func TestDescriptorLifetimes(t *testing.T) {
	for _, cfg := range []struct {
		name  string
		cache CacheConfig
	}{
		{"evicting", CacheConfig{MaxBytes: 1 << 20, MaxOpen: 6, Validity: 5 * time.Millisecond, NoWatch: true}},
		{"watching", CacheConfig{MaxBytes: 1 << 20, MaxOpen: 9, Validity: time.Hour}},
		{"disabled", CacheConfig{MaxBytes: -1}},
	} {
		t.Run(cfg.name, func(t *testing.T) { descriptorLifetimes(t, cfg.cache) })
	}
}

func descriptorLifetimes(t *testing.T, cc CacheConfig) {
	root := t.TempDir()
	v := &versions{m: map[string][][]byte{}}
	// Six files with three sidecars each, held open; four without, made
	// on the fly (two held in memory, two open).
	const files = 10
	names := make([]string, files)
	content := func(i int) []byte {
		switch {
		case i < 6:
			return bigText(96 << 10)
		case i < 8:
			return jsText(20 << 10)
		}
		return jsText(200 << 10)
	}
	sidecars := func(i int) []codec.Coding {
		if i < 6 {
			return codec.Encoded[:]
		}
		return nil
	}
	for i := range names {
		names[i] = fmt.Sprintf("f%d.txt", i)
		writeVersion(t, root, names[i], content(i), sidecars(i), v)
	}
	before := openFDs(t)
	st, err := Open(Config{Root: root, Cache: cc})
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var mut sync.WaitGroup
	mut.Add(1)
	go func() { // rewrite and touch files and sidecars
		defer mut.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			name := names[i%files]
			if i%3 == 0 {
				now := time.Now()
				os.Chtimes(filepath.Join(root, name+codec.Encoded[i%3].Ext()), now, now)
				continue
			}
			writeVersion(t, root, name, content(i%files), sidecars(i%files), v)
		}
	}()

	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(g), 1))
			var held []*plan
			var heldNames []string
			for range 150 {
				name := names[r.IntN(files)]
				hdr := []string{}
				if ae := aes[r.IntN(len(aes))]; ae != "" {
					hdr = append(hdr, "Accept-Encoding: "+ae)
				}
				method := "GET"
				if r.IntN(8) == 0 {
					method = "HEAD"
				}
				p := serveRaw(t, st, method, "/"+name, hdr...)
				if r.IntN(3) == 0 && len(held) < 4 { // a slow client
					held, heldNames = append(held, p), append(heldNames, name)
					continue
				}
				w := p.send()
				if w.status != 200 {
					t.Errorf("%s: %d", name, w.status)
					continue
				}
				checkWire(t, name, w, v, method == "HEAD", cc.MaxBytes >= 0)
				if len(held) > 0 && r.IntN(2) == 0 {
					p, name := held[0], heldNames[0]
					held, heldNames = held[1:], heldNames[1:]
					if w := p.send(); w.status == 200 {
						checkWire(t, name, w, v, p.req.Method.String() == "HEAD", cc.MaxBytes >= 0)
					}
				}
			}
			for i, p := range held {
				if w := p.send(); w.status == 200 {
					checkWire(t, heldNames[i], w, v, p.req.Method.String() == "HEAD", cc.MaxBytes >= 0)
				}
			}
		}()
	}
	wg.Wait()
	seenMu.Lock()
	t.Logf("200s checked: %v", seen)
	clear(seen)
	seenMu.Unlock()
	close(stop)
	mut.Wait()
	st.reps.waitIdle()

	_, _, counted := st.CacheStats()
	held := fdsTo(root)
	if len(held) != counted {
		t.Errorf("at rest the cache counts %d descriptors and holds %d:\n%s", counted, len(held), strings.Join(held, "\n"))
	}
	if counted > max(cc.MaxOpen, 0) {
		t.Errorf("the cache holds %d descriptors, over its MaxOpen %d", counted, cc.MaxOpen)
	}
	st.Close()
	if left := fdsTo(root); len(left) > 0 {
		t.Errorf("after Close, %d descriptors still open beneath the root:\n%s", len(left), strings.Join(left, "\n"))
	}
	if after := openFDs(t); after > before+1 { // +1: a watcher closing lazily
		t.Errorf("%d descriptors open before Open, %d after Close", before, after)
	}
}
