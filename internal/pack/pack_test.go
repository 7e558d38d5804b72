package pack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// packed packs a small site behind a stand-in for weft's executable and
// returns the output's path and the stand-in's contents.
func packed(t *testing.T, args ...string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	exe := []byte("#!/bin/sh\necho not weft\n")
	must(t, os.WriteFile(filepath.Join(dir, "exe"), exe, 0o755))
	site := filepath.Join(dir, "site")
	must(t, os.MkdirAll(filepath.Join(site, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(site, "index.html"), []byte("<p>hi\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(site, "sub", "a b ü.txt"), []byte("ü\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(site, ".env"), []byte("SECRET=1\n"), 0o644))
	out := filepath.Join(dir, "app")
	if _, err := Pack(Options{Exe: filepath.Join(dir, "exe"), Dir: site, Out: out, Args: args}); err != nil {
		t.Fatal(err)
	}
	return out, exe
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRoundTrip: what Pack writes, Read finds: the executable unchanged in
// front, the flags, the files and their times; the mode is 0755.
func TestRoundTrip(t *testing.T) {
	out, exe := packed(t, "--listing", "--header", "/*: X-A: 1")
	b, err := os.ReadFile(out)
	must(t, err)
	if !slices.Equal(b[:len(exe)], exe) {
		t.Fatalf("the executable is not copied unchanged")
	}
	fi, err := os.Stat(out)
	must(t, err)
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode())
	}
	p, err := Read(out)
	if err != nil || p == nil {
		t.Fatalf("Read = %v, %v", p, err)
	}
	if p.ExeSize != int64(len(exe)) || p.Size != fi.Size() || p.Files != 2 {
		t.Errorf("ExeSize %d, Size %d, Files %d; want %d, %d, 2", p.ExeSize, p.Size, p.Files, len(exe), fi.Size())
	}
	if !slices.Equal(p.Args, []string{"--listing", "--header", "/*: X-A: 1"}) {
		t.Errorf("Args %q", p.Args)
	}
	if _, err := p.Flags(); err != nil {
		t.Error(err)
	}
	got, err := fs.ReadFile(p.Site, "sub/a b ü.txt")
	if err != nil || string(got) != "ü\n" {
		t.Errorf("sub/a b ü.txt = %q, %v", got, err)
	}
	if _, err := fs.Stat(p.Site, ".env"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(".env packed without --dotfiles: %v", err)
	}

	// Packing from a packed executable copies weft alone, not its payload.
	again := filepath.Join(t.TempDir(), "again")
	if _, err := Pack(Options{Exe: out, Dir: t.TempDir(), Out: again}); err != nil {
		t.Fatal(err)
	}
	p, err = Read(again)
	if err != nil || p == nil || p.ExeSize != int64(len(exe)) || p.Files != 0 {
		t.Errorf("packed from a packed executable: %+v, %v; want ExeSize %d, no files", p, err, len(exe))
	}
}

// TestReadPlain: a file without a trailer holds nothing, and that is no
// error.
func TestReadPlain(t *testing.T) {
	name := filepath.Join(t.TempDir(), "plain")
	must(t, os.WriteFile(name, []byte("no payload here, but long enough to hold a trailer's worth of bytes: 0123456789"), 0o755))
	if p, err := Read(name); p != nil || err != nil {
		t.Errorf("Read = %v, %v; want nothing", p, err)
	}
}

// TestReadDamaged: a payload cut short, a byte changed in it, or a
// trailer whose lengths do not add up is ErrDamaged, never a site.
func TestReadDamaged(t *testing.T) {
	out, exe := packed(t)
	whole, err := os.ReadFile(out)
	must(t, err)
	cases := map[string]func([]byte) []byte{
		"FlippedZip": func(b []byte) []byte { b[len(exe)+40] ^= 1; return b },
		"FlippedManifest": func(b []byte) []byte {
			b[len(b)-trailerSize-3] ^= 1
			return b
		},
		"CutAndTrailerKept": func(b []byte) []byte {
			return append(slices.Clone(b[:len(exe)+20]), b[len(b)-trailerSize:]...)
		},
		"LengthsOff": func(b []byte) []byte { b[len(b)-trailerSize+15]++; return b },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "app")
			must(t, os.WriteFile(f, damage(slices.Clone(whole)), 0o755))
			p, err := Read(f)
			if p != nil || !errors.Is(err, ErrDamaged) {
				t.Errorf("Read = %v, %v; want ErrDamaged", p, err)
			}
		})
	}
}

// TestOutputInsideTheSite: `weft pack . -o app` from the site's own
// folder packs neither the file being written nor the one it replaces,
// even with --dotfiles (the temporary name is a dotfile).
func TestOutputInsideTheSite(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(t.TempDir(), "exe")
	must(t, os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("hi\n"), 0o644))
	out := filepath.Join(dir, "app")
	for range 2 {
		res, err := Pack(Options{Exe: exe, Dir: dir, Out: out, Args: []string{"--dotfiles"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Files != 1 {
			t.Errorf("packed %d files, want index.html alone", res.Files)
		}
	}
	p, err := Read(out)
	if err != nil || p == nil {
		t.Fatalf("Read = %v, %v", p, err)
	}
	names, err := fs.Glob(p.Site, "*")
	if err != nil || !slices.Equal(names, []string{"index.html"}) {
		t.Errorf("packed %q, %v; want index.html alone", names, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the site's folder holds %d names, want index.html and app (no temporary file left)", len(entries))
	}
}
