package server

import (
	"os"
	"sync"
)

// temporaries are the folders weft made for itself while it runs (the
// extracted site, the process engine's configuration and metrics
// folders), for RemoveTemporaries.
var temporaries = struct {
	sync.Mutex
	dirs map[string]struct{}
}{dirs: map[string]struct{}{}}

// temporary notes dir, a folder weft made for itself, and returns the
// function that removes it.
func temporary(dir string) (remove func()) {
	temporaries.Lock()
	temporaries.dirs[dir] = struct{}{}
	temporaries.Unlock()
	return func() {
		temporaries.Lock()
		delete(temporaries.dirs, dir)
		temporaries.Unlock()
		os.RemoveAll(dir)
	}
}

// RemoveTemporaries removes the temporary folders weft made for itself
// and has not removed yet, for an exit that skips the deferred removals
// (os.Exit at a second Ctrl-C).
func RemoveTemporaries() {
	temporaries.Lock()
	defer temporaries.Unlock()
	for dir := range temporaries.dirs {
		os.RemoveAll(dir)
		delete(temporaries.dirs, dir)
	}
}
