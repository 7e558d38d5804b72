package sample

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"testing/fstest"
	"time"
)

// TestExtractStableTimes: two extractions, a second apart, give every
// file and folder the same modification time, the build's.
func TestExtractStableTimes(t *testing.T) {
	times := func() map[string]time.Time {
		dir, cleanup, err := Extract(Site())
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		m := map[string]time.Time{}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			m[rel] = fi.ModTime()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := times()
	time.Sleep(1100 * time.Millisecond) // Last-Modified has seconds
	second := times()
	if len(first) < 2 || len(first) != len(second) {
		t.Fatalf("extracted %d then %d names", len(first), len(second))
	}
	for name, mod := range first {
		if !mod.Equal(ModTime()) {
			t.Errorf("%s: modified %v, want the build's %v", name, mod, ModTime())
		}
		if !second[name].Equal(mod) {
			t.Errorf("%s: modified %v, then %v", name, mod, second[name])
		}
	}
}

func TestBuildTime(t *testing.T) {
	commit := time.Date(2026, 11, 30, 12, 34, 56, 0, time.UTC)
	cases := []struct {
		name     string
		settings []debug.BuildSetting
		want     time.Time
	}{
		{"VCS", []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.time", Value: commit.Format(time.RFC3339)}}, commit},
		{"NoVCS", []debug.BuildSetting{{Key: "GOOS", Value: "linux"}}, releaseTime},
		{"Garbled", []debug.BuildSetting{{Key: "vcs.time", Value: "yesterday"}}, releaseTime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildTime(tc.settings); !got.Equal(tc.want) {
				t.Errorf("buildTime = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestExtractKeepsTimes: a site whose files have times (a packed one)
// keeps them, to the nanosecond; one without gets the build's.
func TestExtractKeepsTimes(t *testing.T) {
	a := time.Date(2024, 2, 29, 12, 0, 1, 500, time.UTC)
	b := time.Date(2025, 7, 4, 8, 30, 0, 0, time.UTC)
	site := fstest.MapFS{
		"index.html":       {Data: []byte("<p>hi"), ModTime: a},
		"sub":              {Mode: fs.ModeDir | 0o755, ModTime: b},
		"sub/über täg.txt": {Data: []byte("x"), ModTime: b},
		"untimed.txt":      {Data: []byte("y")},
	}
	dir, cleanup, err := Extract(site)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	for name, want := range map[string]time.Time{"index.html": a, "sub": b, "sub/über täg.txt": b, "untimed.txt": ModTime()} {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("%s: modified %v, want %v", name, fi.ModTime(), want)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "index.html")); err != nil || string(got) != "<p>hi" {
		t.Errorf("index.html = %q, %v", got, err)
	}
}
