package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/weft-server/weft/internal/config"
)

// Listen opens a TCP listener on addr, or a unix socket listener on
// "unix:/PATH" (see listenUnix), with an error a person can act on.
// Accepted TCP connections get no TCP keep-alive probes, as with nginx's
// default: the idle and write timeouts end dead connections, and Go's
// Accept saves four setsockopt calls per connection.
func Listen(addr string) (net.Listener, error) {
	return listenSocket(addr, 0, "")
}

// listenSocket is Listen with the mode (0: as the umask makes it) and
// owner ("" to leave it) of a unix socket's file.
func listenSocket(addr string, mode os.FileMode, owner string) (net.Listener, error) {
	if path, ok := config.UnixPath(addr); ok {
		return listenUnix(path, mode, owner)
	}
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, listenError(addr, err)
	}
	return ln, nil
}

func listenError(addr string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return fmt.Errorf("weft: cannot listen on %s: %w", addr, unwrapSyscall(oe.Err))
	}
	return fmt.Errorf("weft: cannot listen on %s: %w", addr, err)
}

// listenUnix listens on a unix socket at path. A socket file left there by
// a server that is gone (nothing answers a connection to it) is replaced;
// a live one (something accepts connections) and a file that is not a
// socket are left alone, with an error. The listener removes the file
// when it is closed. The file has its mode from the moment it exists
// (see bindUnix): no one connects before the mode says they may, and no
// chmod by path follows a symbolic link planted in the socket's folder.
// The owner is set without following one either.
func listenUnix(path string, mode os.FileMode, owner string) (net.Listener, error) {
	addr := "unix:" + path
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("weft: cannot listen on %s: %w", addr, unwrapSyscall(err))
	case fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("weft: cannot listen on %s: %s is a %s, not a socket; remove it or choose another path", addr, path, kindOf(fi.Mode()))
	default:
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("weft: cannot listen on %s: another server is accepting connections on it; stop it or choose another path", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("weft: cannot listen on %s: cannot tell whether the socket there is in use: %w", addr, unwrapSyscall(err))
		}
		// Refused: no process listens on it any more.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("weft: cannot listen on %s: removing the stale socket: %w", addr, unwrapSyscall(err))
		}
	}
	var id identity
	if owner != "" {
		if id, err = lookupOwner(owner, false); err != nil {
			return nil, fmt.Errorf("weft: --unix-owner: %w", err)
		}
	}
	ln, err := bindUnix(path, mode)
	if err != nil {
		return nil, listenError(addr, err)
	}
	if unixBound != nil {
		unixBound(path)
	}
	if owner != "" {
		if err := os.Lchown(path, id.uid, id.gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("weft: --unix-owner %s: %w", owner, unwrapSyscall(err))
		}
	}
	return ln, nil
}

// unixBound, when set (by tests), runs as soon as a unix socket's file
// exists: from then on anyone the mode lets in may connect, and anyone
// who may write to its folder may replace it.
var unixBound func(path string)

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "folder"
	case m.Type() == fs.ModeSymlink:
		return "symbolic link"
	case m.IsRegular():
		return "regular file"
	}
	return "special file"
}

// passed are the listening sockets a service manager handed over (systemd
// socket activation), by the role their name gives them.
type passed struct {
	main     net.Listener // the site's (over TLS when TLS is on)
	admin    net.Listener // named "admin": the admin endpoints'
	redirect net.Listener // named "http" while TLS is on: redirects to HTTPS
}

func (p *passed) close() {
	for _, ln := range []net.Listener{p.main, p.admin, p.redirect} {
		if ln != nil {
			ln.Close()
		}
	}
}

// takePassed takes the sockets systemd passed when LISTEN_PID is this
// process and LISTEN_FDS counts them (from descriptor 3; LISTEN_FDNAMES
// names them, as the socket unit's FileDescriptorName= sets). It unsets
// the three variables, so that no child process takes them again. A
// socket named "admin" serves the admin endpoints; with TLS on, one named
// "http" serves the redirect to HTTPS; any other is the site's, and there
// must be one at most. A socket that is not listening (bound only, or
// connected) is refused: accept would fail on it at once, for ever.
func takePassed(tlsOn bool) (passed, error) {
	var p passed
	for _, f := range activation.Files(true) {
		name := f.Name()
		err := listening(f)
		var ln net.Listener
		if err == nil {
			ln, err = net.FileListener(f)
		}
		f.Close()
		if err != nil {
			p.close()
			return passed{}, fmt.Errorf("weft: the socket systemd passed as %q is not a listening stream socket: %w", name, err)
		}
		slot := &p.main
		switch {
		case name == "admin":
			slot = &p.admin
		case name == "http" && tlsOn:
			slot = &p.redirect
		}
		if *slot != nil {
			ln.Close()
			p.close()
			return passed{}, fmt.Errorf("weft: systemd passed two sockets for one role (the second named %q): weft serves one site socket, one named admin and, with TLS, one named http", name)
		}
		*slot = ln
	}
	return p, nil
}
