package site

import (
	"io/fs"
	"os"
	"syscall"
	"unsafe"
)

// On Linux, files are opened with openat2(2) beneath a descriptor of the
// root, with RESOLVE_BENEATH (no absolute path, no symbolic link or ".."
// leaves the root) and RESOLVE_NO_MAGICLINKS (no /proc links); under
// SymlinksDeny with RESOLVE_NO_SYMLINKS instead, under SymlinksFollow with
// RESOLVE_NO_MAGICLINKS alone. Unlike
// os.Root, which opens every directory on the way for reading, the kernel
// needs only search permission on them, as for any open: a file in a
// directory of mode 0711 is served, as nginx serves it. Where openat2 is
// missing (before Linux 5.6, or refused by a seccomp filter), os.Root is
// used.

const (
	sysOpenat2          = 437 // the same number on every architecture
	resolveNoMagiclinks = 0x02
	resolveNoSymlinks   = 0x04
	resolveBeneath      = 0x08
	maxRetries          = 8 // EAGAIN: a rename raced the lookup

	// oPath is O_PATH, which package syscall lacks; 010000000 on every
	// architecture Go runs Linux on.
	oPath = 0o10000000
)

// openHow is struct open_how.
type openHow struct{ flags, mode, resolve uint64 }

// resolveFor is the openat2 resolve flags of a symlink policy.
func resolveFor(policy string) uint64 {
	switch policy {
	case SymlinksFollow:
		return resolveNoMagiclinks
	case SymlinksDeny:
		return resolveBeneath | resolveNoSymlinks
	}
	return resolveBeneath | resolveNoMagiclinks
}

func openat2(dirfd int, name string, flags int, resolve uint64) (int, error) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	how := openHow{flags: uint64(flags | syscall.O_CLOEXEC), resolve: resolve}
	for tries := 0; ; tries++ {
		fd, _, e := syscall.Syscall6(sysOpenat2, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		switch {
		case e == 0:
			return int(fd), nil
		case e == syscall.EINTR, e == syscall.EAGAIN && tries < maxRetries:
			continue
		}
		return -1, e
	}
}

// openRootDir returns the root opened for openat2, or nil when openat2
// cannot be used.
func openRootDir(root string) *os.File {
	fd, err := syscall.Open(root, oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	probe, err := openat2(fd, ".", oPath, resolveBeneath)
	if err != nil {
		syscall.Close(fd)
		return nil
	}
	syscall.Close(probe)
	return os.NewFile(uintptr(fd), root)
}

// openFile opens name beneath the root for reading, without blocking on a
// FIFO or device. A directory that may be searched but not read comes back
// opened with O_PATH: enough to stat it and to serve the files within.
// The root's descriptor is used inside its RawConn's Control, which holds
// it open for the call: a handler still running after Close (one left
// behind by a shutdown timeout) gets an error, never a descriptor number
// that something else may have been given since.
func (s *Site) openFile(name string) (*os.File, error) {
	if s.rootDir == nil {
		return s.openPortable(name)
	}
	rc, err := s.rootDir.SyscallConn()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fd := -1
	cerr := rc.Control(func(dir uintptr) { fd, err = openBeneath(int(dir), name, s.resolve) })
	switch {
	case cerr != nil:
		return nil, &fs.PathError{Op: "open", Path: name, Err: cerr}
	case err == syscall.EAGAIN:
		return s.openPortable(name)
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openBeneath opens name beneath the directory dir (as resolve allows),
// falling back to O_PATH for a directory that may be searched but not
// read.
func openBeneath(dir int, name string, resolve uint64) (int, error) {
	fd, err := openat2(dir, name, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, resolve)
	if err == syscall.EACCES {
		if pfd, perr := openat2(dir, name, oPath, resolve); perr == nil {
			var st syscall.Stat_t
			if syscall.Fstat(pfd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
				return pfd, nil
			}
			syscall.Close(pfd)
		}
	}
	return fd, err
}
