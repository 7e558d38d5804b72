//go:build unix

package server

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUnixSocketModeAtBind: the socket file has unix_mode from the moment
// it exists, so no one connects through wider permissions before weft
// sets them (the file was created by the umask, then chmod-ed).
func TestUnixSocketModeAtBind(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "weft.sock")
	var atBind os.FileMode
	unixBound = func(path string) {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Error(err)
			return
		}
		atBind = fi.Mode().Perm()
	}
	t.Cleanup(func() { unixBound = nil })
	ln, err := listenSocket("unix:"+sock, 0o640, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if atBind != 0o640 || fi.Mode().Perm() != 0o640 {
		t.Errorf("socket file mode %#o when bound, %#o when listening; want 0640 both", atBind, fi.Mode().Perm())
	}
}

// TestUnixSocketModeNotThroughSymlink: a symbolic link planted where the
// socket was bound, before its mode is set, is not followed: the file it
// points to keeps its mode (weft may run as root here; chmod followed it).
func TestUnixSocketModeNotThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "weft.sock")
	victim := filepath.Join(dir, "shadow")
	if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	unixBound = func(path string) {
		// Another user who may write to the socket's folder.
		if err := os.Remove(path); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(victim, path); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { unixBound = nil })
	ln, err := listenSocket("unix:"+sock, 0o666, "")
	if err == nil {
		ln.Close()
	}
	fi, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the symbolic link's target became %#o; want it left 0600", fi.Mode().Perm())
	}
}
