//go:build unix

package precompress_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/precompress"
)

// TestPrecompressUnreadable: an original that cannot be read is reported
// and the others are still written. Run as root, the test runs its checks
// in a child process as nobody, since root reads everything.
func TestPrecompressUnreadable(t *testing.T) {
	if dir := os.Getenv("WEFT_TEST_UNREADABLE_DIR"); dir != "" {
		checkUnreadable(t, dir)
		return
	}
	base, err := os.MkdirTemp("", "weft-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	dir := filepath.Join(base, "site")
	tree(t, dir, map[string][]byte{"ok.js": text(8000, 1), "secret.js": text(8000, 2), "sub/ok.css": text(8000, 3)})
	if err := os.Chmod(filepath.Join(dir, "secret.js"), 0); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 {
		checkUnreadable(t, dir)
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if d.Name() != "secret.js" {
			os.Chown(p, 65534, 65534)
		}
		return nil
	})
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "precompress.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestPrecompressUnreadable$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "WEFT_TEST_UNREADABLE_DIR="+dir)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestPrecompressUnreadable") {
		t.Fatalf("as nobody, the test did not run:\n%s", out)
	}
}

func checkUnreadable(t *testing.T, dir string) {
	if f, err := os.Open(filepath.Join(dir, "secret.js")); err == nil {
		f.Close()
		t.Skip("a file of mode 0 is readable: running with privileges")
	}
	rep, seen := run(t, false, precompress.Config{Dir: dir})
	if rep.Errors != 3 || rep.Coding[codec.Brotli].Written != 2 {
		t.Errorf("%+v\n%q", rep, seen)
	}
	for _, s := range sidecars("secret.js") {
		if !slices.ContainsFunc(seen, func(l string) bool {
			return strings.HasPrefix(l, "failed "+s+": ") && strings.Contains(l, "permission denied")
		}) {
			t.Errorf("no failure reported for %s: %q", s, seen)
		}
	}
	checkSidecars(t, dir, "ok.js")
	checkSidecars(t, dir, "sub/ok.css")
	leftovers(t, dir)
}

// TestPrecompressOwner: run as root, a sidecar gets its file's owner and
// group, so a server that may read the file may read its sidecars.
func TestPrecompressOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("only root gives files away")
	}
	dir := t.TempDir()
	tree(t, dir, map[string][]byte{"app.js": text(8000, 1)})
	orig := filepath.Join(dir, "app.js")
	if err := os.Chown(orig, 65534, 65533); err != nil {
		t.Fatal(err)
	}
	os.Chmod(orig, 0o640)
	run(t, false, precompress.Config{Dir: dir})
	for _, s := range sidecars("app.js") {
		fi, err := os.Stat(filepath.Join(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65533 || fi.Mode() != 0o640 {
			t.Errorf("%s: owner %d:%d mode %v, want 65534:65533 -rw-r-----", s, st.Uid, st.Gid, fi.Mode())
		}
	}
}
