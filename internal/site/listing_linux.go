package site

import (
	"encoding/binary"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// direntBuf is the buffer getdents(2) fills: some 500 entries of names
// of 40 bytes, in one call.
const direntBuf = 32 << 10

// scanDir calls yield with the name and type bits of each entry of the
// directory dir but "." and "..", reading it with getdents(2) into one
// buffer: the name is a view of it, valid during the call. typed is false
// where the file system does not tell the type (DT_UNKNOWN).
func scanDir(dir *os.File, yield func(name string, mode fs.FileMode, typed bool)) error {
	rc, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, direntBuf)
	var n int
	var gerr error
	read := func(fd uintptr) { n, gerr = unix.Getdents(int(fd), buf) }
	for {
		if err := rc.Control(read); err != nil {
			return err
		}
		if gerr == syscall.EINTR {
			continue
		}
		if gerr != nil {
			return &fs.PathError{Op: "getdents", Path: dir.Name(), Err: gerr}
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2),
		// d_type (1), then the name, NUL-terminated and padded.
		for off := 0; off+19 <= n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen < 19 || off+reclen > n {
				return &fs.PathError{Op: "getdents", Path: dir.Name(), Err: syscall.EIO}
			}
			typ, name := buf[off+18], buf[off+19:off+reclen]
			off += reclen
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			if len(name) == 0 || name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.') {
				continue
			}
			var mode fs.FileMode
			switch typ {
			case unix.DT_REG:
			case unix.DT_DIR:
				mode = fs.ModeDir
			case unix.DT_LNK:
				mode = fs.ModeSymlink
			case unix.DT_UNKNOWN:
				yield(b2s(name), 0, false)
				continue
			default:
				mode = fs.ModeIrregular
			}
			yield(b2s(name), mode, true)
		}
	}
}

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
