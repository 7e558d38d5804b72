//go:build unix

package server

import (
	"errors"
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

// listening reports a socket f that is not listening (SO_ACCEPTCONN), or
// not a socket.
func listening(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var on int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		on, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	}); err != nil {
		return err
	}
	switch {
	case serr != nil:
		return serr
	case on == 0:
		return errors.New("it does not listen (bound or connected only)")
	}
	return nil
}
