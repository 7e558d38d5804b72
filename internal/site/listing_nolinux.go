//go:build !linux

package site

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// scanDir calls yield with the name of each entry of the directory dir,
// read in batches; typed is false: the type is not known without a stat.
func scanDir(dir *os.File, yield func(name string, mode fs.FileMode, typed bool)) error {
	for {
		names, err := dir.Readdirnames(512)
		for _, n := range names {
			yield(n, 0, false)
		}
		if err == io.EOF || err == nil && len(names) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// statter returns the lstat of names in the directory dir (named name),
// beneath the root as open would reach it.
func (s *Site) statter(_ *os.File, name string) (func(string) (fileStat, error), error) {
	return func(n string) (fileStat, error) {
		var fi os.FileInfo
		var err error
		if s.cfg.Symlinks == SymlinksFollow {
			fi, err = os.Lstat(filepath.Join(s.hostPath(name), n))
		} else {
			fi, err = s.root.Lstat(joinName(name, n))
		}
		if err != nil {
			return fileStat{}, err
		}
		return fileStatOf(fi), nil
	}, nil
}

// fileStatOf is the fileStat of fi.
func fileStatOf(fi fs.FileInfo) fileStat {
	return fileStat{mode: fi.Mode().Type(), size: fi.Size(), mod: fi.ModTime().UnixNano()}
}
