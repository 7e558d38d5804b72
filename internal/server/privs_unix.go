//go:build unix

package server

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// apply switches the process, every thread of it, to the user: the
// supplementary groups, the group, then the user (after which it could
// not change groups any more). It then checks that root cannot be had
// back.
func (p *privileges) apply() error {
	if err := syscall.Setgroups(p.to.groups); err != nil {
		return fmt.Errorf("weft: --user %s: setgroups: %w", p.to.spec, err)
	}
	if err := syscall.Setgid(p.to.gid); err != nil {
		return fmt.Errorf("weft: --user %s: setgid: %w", p.to.spec, err)
	}
	if err := syscall.Setuid(p.to.uid); err != nil {
		return fmt.Errorf("weft: --user %s: setuid: %w", p.to.spec, err)
	}
	if p.to.uid != 0 && syscall.Setuid(0) == nil {
		return fmt.Errorf("weft: --user %s: root could be taken back after switching", p.to.spec)
	}
	if os.Getuid() != p.to.uid || os.Geteuid() != p.to.uid || os.Getegid() != p.to.gid {
		return fmt.Errorf("weft: --user %s: the switch did not take (uid %d, gid %d)", p.to.spec, os.Geteuid(), os.Getegid())
	}
	return nil
}

// writable reports whether this process may create files in dir.
func writable(dir string) error {
	return unix.Access(dir, unix.W_OK|unix.X_OK)
}

// executable reports whether this process may run the file name.
func executable(name string) error {
	return unix.Access(name, unix.X_OK)
}
