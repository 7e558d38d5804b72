//go:build unix

package site

import "syscall"

// versionOf identifies the version of the file r was made from.
func versionOf(r *entry) (fileVersion, bool) {
	st, ok := r.fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileVersion{}, false
	}
	return fileVersion{dev: uint64(st.Dev), ino: uint64(st.Ino), size: r.size, mod: r.mod.UnixNano()}, true
}
