//go:build unix

package server

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// bindUnix listens on a unix socket at path whose file is created with
// mode (0: as the umask makes it): bind creates it 0777 less the umask,
// so the umask is set to the mode's complement around it. The umask is
// the process's: weft binds its socket at start, before it serves.
func bindUnix(path string, mode os.FileMode) (net.Listener, error) {
	if mode != 0 {
		old := unix.Umask(int(^mode & 0o777))
		defer unix.Umask(old)
	}
	return net.Listen("unix", path)
}
