//go:build linux

package site

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/codec"
)

// TestSidecarInTraversableDirectory: in a directory that may be
// searched but not read (0711; served since issue 13 through openat2), a
// file with a sidecar is never revalidated: openSidecar opens the sidecar
// with openat2 (had = true) but sidecarsSame stats it through os.Root
// (rep.go sidecarsSame: fs.Stat(s.root.FS(), ...)), which needs to read
// every directory on the way and fails with EACCES (has = false). So every
// revalidation (each validity period, each request that misses memory)
// throws the entry away and rebuilds it: its variants built on the fly are
// lost and compressed again, and a br client falls back to identity (or a
// sidecar) until they are. The same happens, in any directory, to a file
// whose sidecar the server may stat but not open (mode 0600, another
// owner): opened = false, stat'ed = true. sidecarsSame must decide "has"
// exactly as openSidecar decides to serve: stat through the same openat2
// path (s.open then Stat, or fstatat beneath rootDir) and count a sidecar
// that cannot be opened as absent. Run as root, the check runs as nobody
// in a child, as TestTraversableDirectory does.
func TestSidecarInTraversableDirectory(t *testing.T) {
	if root := os.Getenv("WEFT_REVIEW_TRAVERSE_ROOT"); root != "" {
		checkSidecarTraversable(t, root)
		return
	}
	base, err := os.MkdirTemp("", "weft-review-traverse-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	os.Chmod(base, 0o755)
	root := filepath.Join(base, "root")
	js := jsText(64 << 10)
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d/app.js"), js, 0o644)
	os.WriteFile(filepath.Join(root, "d/app.js.gz"), mustCompress(t, codec.Gzip, js), 0o644)
	os.Chmod(filepath.Join(root, "d"), 0o111)
	os.MkdirAll(filepath.Join(root, "e"), 0o755)
	os.WriteFile(filepath.Join(root, "e/app.js"), js, 0o644)
	os.WriteFile(filepath.Join(root, "e/app.js.gz"), mustCompress(t, codec.Gzip, js), 0o600) // not nobody's
	if os.Getuid() != 0 {
		checkSidecarTraversable(t, root)
		return
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "site.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestSidecarInTraversableDirectory$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "WEFT_REVIEW_TRAVERSE_ROOT="+root)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestSidecarInTraversableDirectory") {
		t.Fatalf("as nobody, the test did not run:\n%s", out)
	}
}

func checkSidecarTraversable(t *testing.T, root string) {
	if _, err := os.ReadDir(filepath.Join(root, "d")); err == nil {
		t.Skip("the directory of mode 0111 is readable: running with privileges")
	}
	const validity = 300 * time.Millisecond
	for _, tc := range []struct{ name, sidecar string }{
		{"d/app.js", "gzip"}, // in a directory of mode 0111
		{"e/app.js", ""},     // beside a sidecar it may not read
	} {
		st := openReview(t, Config{Root: root, Cache: CacheConfig{NoWatch: true, Validity: validity}})
		w := serveRaw(t, st, "GET", "/"+tc.name, "Accept-Encoding: gzip").send()
		if w.status != 200 || w.hdr["content-encoding"] != tc.sidecar {
			t.Fatalf("%s: %d %q", tc.name, w.status, w.hdr["content-encoding"])
		}
		st.reps.waitIdle()                                                // a gzip build, if any (one slot)
		serveRaw(t, st, "GET", "/"+tc.name, "Accept-Encoding: br").send() // starts the br build
		st.reps.waitIdle()
		entry := func() *entry {
			e := st.cache.lookup([]byte(tc.name), time.Now(), false)
			if e != nil {
				e.Close()
			}
			return e
		}
		e1 := entry()
		if w := serveRaw(t, st, "GET", "/"+tc.name, "Accept-Encoding: br").send(); w.hdr["content-encoding"] != "br" {
			t.Fatalf("%s: br variant not built: %q", tc.name, w.hdr["content-encoding"])
		}
		time.Sleep(2 * validity) // the entry is due for revalidation; nothing changed
		w = serveRaw(t, st, "GET", "/"+tc.name, "Accept-Encoding: br").send()
		if e2 := entry(); e2 != e1 {
			t.Errorf("%s: unchanged, replaced at revalidation (sidecarsSame false): its variants are thrown away", tc.name)
		}
		if ce := w.hdr["content-encoding"]; ce != "br" {
			t.Errorf("%s: after revalidation a br client gets %q: the br variant was lost and is being compressed again", tc.name, ce)
		}
	}
}
