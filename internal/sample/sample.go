// Package sample holds the small site weft serves when it is given no
// directory, and writes it out to a directory so it is served through the
// same os.Root path as any other.
package sample

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
)

//go:embed www
var files embed.FS

// Extract writes the sample site into a new temporary directory and
// returns its path and a function that removes it.
func Extract() (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "weft-sample-")
	if err != nil {
		return "", nil, fmt.Errorf("weft: sample site: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	sub, _ := fs.Sub(files, "www")
	if err := os.CopyFS(dir, sub); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("weft: sample site: %w", err)
	}
	return dir, cleanup, nil
}
