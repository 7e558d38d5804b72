package site

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// statter returns the lstat of names in the directory dir (named name),
// each one fstatat(2) on dir's descriptor: no path is walked again. The
// function it returns reuses its buffers: it is for one goroutine.
func (s *Site) statter(dir *os.File, _ string) (func(string) (fileStat, error), error) {
	rc, err := dir.SyscallConn()
	if err != nil {
		return nil, err
	}
	d := &dirStatter{rc: rc}
	d.control = func(fd uintptr) { d.err = unix.Fstatat(int(fd), d.name, &d.st, unix.AT_SYMLINK_NOFOLLOW) }
	return d.lstat, nil
}

// dirStatter calls fstatat on one directory's descriptor, held open by
// its RawConn for each call, without allocating per call but the name's
// C string.
type dirStatter struct {
	rc      syscall.RawConn
	control func(fd uintptr)
	name    string
	st      unix.Stat_t
	err     error
}

func (d *dirStatter) lstat(n string) (fileStat, error) {
	d.name, d.err = n, nil
	if err := d.rc.Control(d.control); err != nil {
		return fileStat{}, err
	}
	if d.err != nil {
		return fileStat{}, &fs.PathError{Op: "fstatat", Path: n, Err: d.err}
	}
	fst := fileStat{size: d.st.Size, mod: d.st.Mtim.Nano()}
	switch d.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		fst.mode = fs.ModeDir
	case unix.S_IFLNK:
		fst.mode = fs.ModeSymlink
	default:
		fst.mode = fs.ModeIrregular
	}
	return fst, nil
}
