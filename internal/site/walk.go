package site

import (
	"io/fs"
	"os"
)

// A walk visits what requests can reach beneath a folder, as its listings
// show it level by level (see listDir): hidden names only with
// Config.Dotfiles, links as the symlink policy lets a request follow them
// (a link out of the root under SymlinksConfine is left out, and so is a
// link to a folder above it, a loop), no FIFO or device, and at most
// maxArchiveDepth folders deep. Folder downloads (archive.go) and
// Reachable walk.

// walkOptions choose what a walk leaves out beyond what a listing does.
type walkOptions struct {
	leaveOut func(name string) bool // names left out, with what is beneath them; nil for none
	sidecars bool                   // keep the sidecars standing for a listed file
}

// visit is called for each entry of a walk: name beneath the root, rel
// within the folder walked, and its listing row.
type visit func(name, rel string, r *listRow) error

// walk calls fn for every entry beneath the folder dir, depth-first, in
// natural name order. stack holds the folders on the way down, dir's
// last: a folder among them (a link up the tree) is left out.
func (s *Site) walk(dir, rel string, stack []fs.FileInfo, o walkOptions, fn visit) error {
	l, err := s.readDir(dir, true, o.sidecars)
	if err != nil {
		if len(stack) <= 1 || !skippable(err) {
			return err
		}
		return nil // gone since its parent was listed, or unreadable: left out
	}
	defer l.Close()
	l.sort(listQuery{sort: sortName})
	for i := range l.rows {
		r := &l.rows[i]
		n := l.name(r)
		name := joinName(dir, n)
		if o.leaveOut != nil && o.leaveOut(name) {
			continue
		}
		rn := n
		if rel != "" {
			rn = rel + "/" + n
		}
		var fi fs.FileInfo
		if r.kind == kindDir {
			if len(stack) >= maxArchiveDepth {
				continue
			}
			if fi, err = s.stat(name); err != nil && !skippable(err) {
				return err
			}
			if err != nil || !fi.IsDir() || onStack(stack, fi) {
				continue
			}
		}
		if err := fn(name, rn, r); err != nil {
			return err
		}
		if r.kind == kindDir {
			if err := s.walk(name, rn, append(stack, fi), o, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func onStack(stack []fs.FileInfo, fi fs.FileInfo) bool {
	for _, up := range stack {
		if os.SameFile(up, fi) {
			return true
		}
	}
	return false
}

// openListed opens the file name as a request would; ok is false for one
// gone or no longer a regular file, which a walk leaves out. Any other
// failure (out of descriptors, an I/O error, the site closed) is err: what
// a walk makes must not look whole without a file it lists.
func (s *Site) openListed(name string) (File, fs.FileInfo, bool, error) {
	f, fi, err := s.open(name)
	if err != nil {
		if skippable(err) {
			return nil, nil, false, nil
		}
		return nil, nil, false, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, false, nil
	}
	return f, fi, true, nil
}

// Reachable calls fn for every folder and file a request can reach
// beneath the root (see walk), precompressed sidecars included, whatever
// the auth rules: depth-first, a folder before what it holds, in natural
// name order. name is slash-separated, relative to the root; fi describes
// the folder or file as a request finds it (a link's target). For a file,
// f is it, open, and fn must not keep it: Reachable closes it once fn
// returns; for a folder f is nil. An error from fn stops the walk and is
// returned.
func (s *Site) Reachable(fn func(name string, fi fs.FileInfo, f File) error) error {
	root, err := s.stat(".")
	if err != nil {
		return err
	}
	return s.walk(".", "", []fs.FileInfo{root}, walkOptions{sidecars: true}, func(name, _ string, r *listRow) error {
		if r.kind == kindDir {
			fi, err := s.stat(name)
			if err != nil {
				if skippable(err) {
					return nil
				}
				return err
			}
			return fn(name, fi, nil)
		}
		f, fi, ok, err := s.openListed(name)
		if !ok {
			return err
		}
		defer f.Close()
		return fn(name, fi, f)
	})
}
