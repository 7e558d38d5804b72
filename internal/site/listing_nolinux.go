//go:build !linux

package site

import (
	"io/fs"
	"os"
	"path/filepath"
)

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
