package site

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Symbolic-link policies (Config.Symlinks). Whatever the policy, a
// request's path never holds ".." or "." segments (resolve refuses them),
// so only links already in the tree lead anywhere.
const (
	// SymlinksConfine (the default) follows links whose target lies
	// beneath the root and refuses those leaving it: on Linux with
	// openat2(RESOLVE_BENEATH), elsewhere with os.Root.
	SymlinksConfine = "confine"
	// SymlinksFollow follows every link, also out of the root (as nginx,
	// Caddy and Python's http.server do): for a tree that links to shared
	// assets elsewhere.
	SymlinksFollow = "follow"
	// SymlinksDeny refuses every link (404): on Linux with
	// openat2(RESOLVE_NO_SYMLINKS); elsewhere each segment is checked
	// with lstat before the open.
	SymlinksDeny = "deny"
)

func checkSymlinks(p string) (string, error) {
	switch p {
	case "":
		return SymlinksConfine, nil
	case SymlinksConfine, SymlinksFollow, SymlinksDeny:
		return p, nil
	}
	return "", fmt.Errorf("weft: symlinks %q: want %s, %s or %s", p, SymlinksConfine, SymlinksFollow, SymlinksDeny)
}

// hostPath is the name beneath the root as a path of the host.
func (s *Site) hostPath(name string) string {
	return filepath.Join(s.root.Name(), filepath.FromSlash(name))
}

// openPortable opens name by the symlink policy without openat2.
func (s *Site) openPortable(name string) (*os.File, error) {
	switch s.cfg.Symlinks {
	case SymlinksFollow:
		return os.OpenFile(s.hostPath(name), os.O_RDONLY|openFlags, 0)
	case SymlinksDeny:
		if err := s.noLinks(name); err != nil {
			return nil, err
		}
	}
	return s.root.OpenFile(name, os.O_RDONLY|openFlags, 0)
}

// noLinks reports an error if a segment of name is a symbolic link.
func (s *Site) noLinks(name string) error {
	if name == "." {
		return nil
	}
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		fi, err := s.root.Lstat(name[:i])
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
	}
	return nil
}

// stat describes name as open would find it.
func (s *Site) stat(name string) (fs.FileInfo, error) {
	if s.store != nil {
		return s.store.Stat(name)
	}
	switch s.cfg.Symlinks {
	case SymlinksFollow:
		return os.Stat(s.hostPath(name))
	case SymlinksDeny:
		f, fi, err := s.open(name)
		if err == nil {
			f.Close()
		}
		return fi, err
	}
	return s.root.Stat(name)
}
