//go:build unix

package precompress

import (
	"io/fs"
	"os"
	"syscall"
)

// sameOwner gives f the owner and group of like, when run as root (a
// deploy script's usual user): a sidecar of a file of mode 0640 owned by
// root:www-data must be readable by the server as its file is. Other users
// cannot give files away; their sidecars stay theirs.
func sameOwner(f *os.File, like fs.FileInfo) error {
	st, ok := like.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
