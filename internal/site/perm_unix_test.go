//go:build unix

package site_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/weft-server/weft/internal/site"
)

// TestTraversableDirectory: a directory that may be searched but not read
// (mode 0111 here, like 0711 for everyone but its owner) serves the
// readable files within it, its index and its subdirectories, as nginx
// does; listing it stays 403 (issue 13 item 17). Run as root, the test runs
// its checks in a child process as nobody, since root reads everything.
func TestTraversableDirectory(t *testing.T) {
	if root := os.Getenv("WEFT_TEST_TRAVERSE_ROOT"); root != "" {
		checkTraversable(t, root)
		return
	}
	base, err := os.MkdirTemp("", "weft-traverse-")
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
	for p, body := range map[string]string{
		"d/f.txt": "in d\n", "d/index.html": "d index\n", "d/sub/g.txt": "in d/sub\n", "e/h.txt": "in e\n",
	} {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"d", "e"} {
		if err := os.Chmod(filepath.Join(root, d), 0o111); err != nil {
			t.Fatal(err)
		}
	}
	if os.Getuid() != 0 {
		checkTraversable(t, root)
		return
	}
	// As root: the same checks as nobody, from a copy of this test binary
	// that nobody may run.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "site.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestTraversableDirectory$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "WEFT_TEST_TRAVERSE_ROOT="+root)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestTraversableDirectory") {
		t.Fatalf("as nobody, the test did not run:\n%s", out)
	}
}

func checkTraversable(t *testing.T, root string) {
	if _, err := os.ReadDir(filepath.Join(root, "d")); err == nil {
		t.Skip("the directory of mode 0111 is readable: running with privileges")
	}
	st, err := site.Open(site.Config{Root: root, Listing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr := listen(t, st)
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/d/f.txt", 200, "in d\n"},
		{"/d/sub/g.txt", 200, "in d/sub\n"},
		{"/d/", 200, "d index\n"},
		{"/d", 301, ""},
		{"/d/nothing", 404, ""},
		{"/e/h.txt", 200, "in e\n"},
		{"/e/", 403, ""}, // no index: a listing needs to read the directory
		{"/e", 301, ""},
	}
	for round := range 2 {
		for _, tc := range cases {
			r := get(t, addr, tc.path)
			if r.status != tc.status || (tc.body != "" && r.body != tc.body) {
				t.Errorf("round %d: %s: %d %q, want %d %q", round, tc.path, r.status, r.body, tc.status, tc.body)
			}
		}
	}
}
