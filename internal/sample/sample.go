// Package sample holds the small site weft serves when it is given no
// directory, and writes a site held in an fs.FS (the sample's, or one
// packed into the executable) out to a directory, so that it is served
// through the same os.Root path as any other.
package sample

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"
)

//go:embed www
var files embed.FS

// releaseTime stands for the build's time when the build info has none
// (go test, or a build without version control): the files' modification
// times must not be the time weft started, or every restart would change
// their Last-Modified and ETag and empty browsers' caches.
var releaseTime = time.Date(2026, time.November, 25, 0, 0, 0, 0, time.UTC)

// Site is the sample site.
func Site() fs.FS {
	sub, _ := fs.Sub(files, "www")
	return sub
}

// Extract writes the site fsys into a new temporary directory and returns
// its path and a function that removes it. Every file and folder keeps
// its modification time in fsys; one without (the zero time, as in an
// embed.FS) gets the build's (see ModTime), so that Last-Modified and
// ETag stay the same at every start.
func Extract(fsys fs.FS) (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "weft-site-")
	if err != nil {
		return "", nil, fmt.Errorf("weft: extract site: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := os.CopyFS(dir, fsys); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("weft: extract site: %w", err)
	}
	build := ModTime()
	// Setting a file's times leaves its folder's alone: any order will do.
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mod := fi.ModTime()
		if mod.IsZero() {
			mod = build
		}
		return os.Chtimes(filepath.Join(dir, filepath.FromSlash(name)), mod, mod)
	})
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("weft: extract site: %w", err)
	}
	return dir, cleanup, nil
}

// ModTime is the modification time the extracted files get: the time of
// the commit weft was built from (vcs.time in the build info), else
// releaseTime. It is the same at every start of the same binary.
func ModTime() time.Time {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return buildTime(bi.Settings)
	}
	return releaseTime
}

func buildTime(settings []debug.BuildSetting) time.Time {
	for _, s := range settings {
		if s.Key == "vcs.time" {
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				return t
			}
		}
	}
	return releaseTime
}
