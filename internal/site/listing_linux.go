package site

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// statter returns the lstat of names in the directory dir (named name),
// each one fstatat(2) on dir's descriptor: no path is walked again.
func (s *Site) statter(dir *os.File, _ string) (func(string) (fileStat, error), error) {
	rc, err := dir.SyscallConn()
	if err != nil {
		return nil, err
	}
	return func(n string) (fileStat, error) {
		var st unix.Stat_t
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.Fstatat(int(fd), n, &st, unix.AT_SYMLINK_NOFOLLOW)
		}); err != nil {
			return fileStat{}, err
		}
		if serr != nil {
			return fileStat{}, &fs.PathError{Op: "fstatat", Path: n, Err: serr}
		}
		fst := fileStat{size: st.Size, mod: st.Mtim.Nano()}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
		case unix.S_IFDIR:
			fst.mode = fs.ModeDir
		case unix.S_IFLNK:
			fst.mode = fs.ModeSymlink
		default:
			fst.mode = fs.ModeIrregular
		}
		return fst, nil
	}, nil
}
