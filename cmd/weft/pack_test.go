//go:build linux

package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// packSite writes the site weft pack is tested with into a new folder,
// beside a file outside it, and returns the folder and the files a
// request must get back byte for byte (by URL path).
func packSite(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	top := t.TempDir()
	dir := filepath.Join(top, "site")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("body { color: red }\n"))
	zw.Close()
	big := make([]byte, 300<<10) // past the cache's small-file size: sendfile
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"/index.html":                     []byte("<!doctype html><title>packed</title><p>packed home\n"),
		"/style.css":                      []byte("body { color: red }\n"),
		"/style.css.gz":                   gz.Bytes(),
		"/sub/a name with spaces ü €.txt": []byte("spaces and unicode\n"),
		"/sub/deeper/big.bin":             big,
		"/.well-known/security.txt":       []byte("Contact: mailto:a@example.com\n"),
	}
	for p, b := range files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		must(t, os.MkdirAll(filepath.Dir(name), 0o755))
		must(t, os.WriteFile(name, b, 0o644))
	}
	must(t, os.WriteFile(filepath.Join(dir, ".secret"), []byte("dotfile\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(top, "outside.txt"), []byte("outside the root\n"), 0o644))
	must(t, os.Symlink(filepath.Join(top, "outside.txt"), filepath.Join(dir, "out.txt")))
	must(t, os.Symlink("style.css", filepath.Join(dir, "in.txt")))
	files["/in.txt"] = files["/style.css"]
	// A time in the past, the same at each start: Last-Modified shows it.
	old := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, old, old)
	}))
	return dir, files
}

// startExe starts exe in dir with args and returns its banner (the first
// line) and the address it serves; it is stopped when the test ends.
func startExe(t *testing.T, exe, dir string, args ...string) (banner, addr string) {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	r, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	exited := make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(r)
		l, _ := br.ReadString('\n')
		lines <- l
		for {
			if _, err := br.ReadString('\n'); err != nil {
				break
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	var line string
	select {
	case line = <-lines:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s %q: no banner within 20 s; stderr %s", exe, args, stderr.String())
	}
	u := urlRe.FindString(line)
	if u == "" {
		t.Fatalf("%s %q: no banner: %q; stderr %s", exe, args, line, stderr.String())
	}
	return line, strings.Replace(strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"), "localhost:", "127.0.0.1:", 1)
}

// escapePath is p with each segment percent-encoded.
func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// TestPackServesFromNothing: weft pack writes one executable; run from an
// empty folder it serves every packed file byte for byte, leaves out the
// dotfile and the link out of the root, applies the packed flags, lets a
// run-time flag override one, and gives the same ETag at every start.
func TestPackServesFromNothing(t *testing.T) {
	dir, files := packSite(t)
	work := t.TempDir()
	app := filepath.Join(work, "app")
	code, out, errOut := weft(t, work, nil, "pack", dir, "-o", app,
		"--listing", "--header", "/*: X-Packed: yes", "--engine=goroutine", "-p0")
	if code != 0 {
		t.Fatalf("weft pack: exit %d; stderr %s", code, errOut)
	}
	if !strings.Contains(out, "packed 7 files") || !strings.Contains(out, "into "+app) {
		t.Errorf("weft pack said %q; want the 7 files and the output", out)
	}
	fi, err := os.Stat(app)
	must(t, err)
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("%s: mode %v, want 0755", app, fi.Mode())
	}

	empty := t.TempDir()
	banner, addr := startExe(t, app, empty, "--addr", "127.0.0.1:0", "--no-access-log")
	if !strings.Contains(banner, "the packed site") || !strings.Contains(banner, "engine goroutine") {
		t.Errorf("banner %q: want the packed site, on the packed engine", banner)
	}
	for p, want := range files {
		raw := rawGet(t, addr, escapePath(p))
		if statusOf(raw) != "200" || bodyOf(raw) != string(want) {
			t.Errorf("GET %s: %s, %d bytes; want 200 and the %d bytes packed", p, statusOf(raw), len(bodyOf(raw)), len(want))
		}
	}
	for _, p := range []string{"/.secret", "/out.txt"} {
		if raw := rawGet(t, addr, p); statusOf(raw) != "404" {
			t.Errorf("GET %s: %s, want 404: it must not have been packed", p, statusOf(raw))
		}
	}
	home := rawGet(t, addr, "/index.html")
	if header(home, "X-Packed") != "yes" {
		t.Errorf("the packed header rule is not applied:\n%s", home)
	}
	if lm := header(home, "Last-Modified"); lm != "Sat, 07 Jun 2025 08:09:10 GMT" {
		t.Errorf("Last-Modified %q, want the file's time when packed", lm)
	}
	if raw := rawGet(t, addr, "/sub/"); statusOf(raw) != "200" || !strings.Contains(raw, "a name with spaces") {
		t.Errorf("GET /sub/ with the packed --listing: %s", statusOf(raw))
	}
	gz := ask(t, addr, "GET /style.css HTTP/1.1", "Host: t", "Accept-Encoding: gzip")
	if header(gz, "Content-Encoding") != "gzip" || bodyOf(gz) != string(files["/style.css.gz"]) {
		t.Errorf("the packed sidecar is not served for Accept-Encoding: gzip:\n%.300s", gz)
	}

	// Another start: a run-time flag overrides the packed one; the rest
	// and the validators stay.
	// With --dotfiles and --symlinks follow at run time, what was left
	// out stays out: it is not in the executable.
	_, addr2 := startExe(t, app, empty, "--addr", "127.0.0.1:0", "--no-access-log", "--listing=false", "--dotfiles", "--symlinks", "follow")
	if raw := rawGet(t, addr2, "/sub/"); statusOf(raw) == "200" {
		t.Errorf("GET /sub/ with --listing=false at run time: %s, want no listing", statusOf(raw))
	}
	for _, p := range []string{"/.secret", "/out.txt"} {
		if raw := rawGet(t, addr2, p); statusOf(raw) != "404" {
			t.Errorf("GET %s with --dotfiles --symlinks follow at run time: %s, want 404: it must not have been packed", p, statusOf(raw))
		}
	}
	home2 := rawGet(t, addr2, "/index.html")
	if header(home2, "X-Packed") != "yes" {
		t.Errorf("the packed header rule is lost when another flag is given")
	}
	if e1, e2 := header(home, "ETag"), header(home2, "ETag"); e1 == "" || e1 != e2 {
		t.Errorf("ETag %q, then %q at the next start", e1, e2)
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("the working folder holds %v, %v; want nothing", entries, err)
	}

	// Given a DIR, the packed executable serves it instead.
	other := t.TempDir()
	must(t, os.WriteFile(filepath.Join(other, "index.html"), []byte("other\n"), 0o644))
	_, addr3 := startExe(t, app, empty, "--addr", "127.0.0.1:0", "--no-access-log", other)
	if raw := rawGet(t, addr3, "/"); bodyOf(raw) != "other\n" {
		t.Errorf("GET / with DIR given: %q", bodyOf(raw))
	}
}

// TestPackDamaged: a packed executable cut short, or changed in its
// payload, says so and exits 1 rather than serve anything.
func TestPackDamaged(t *testing.T) {
	dir, _ := packSite(t)
	work := t.TempDir()
	app := filepath.Join(work, "app")
	if code, _, errOut := weft(t, work, nil, "pack", dir, "-o", app); code != 0 {
		t.Fatalf("weft pack: exit %d; stderr %s", code, errOut)
	}
	whole, err := os.ReadFile(app)
	must(t, err)
	plain, err := os.Stat(weftBin(t))
	must(t, err)
	cases := map[string][]byte{
		"Truncated": whole[:len(whole)-100],
		"HalfGone":  whole[:plain.Size()+(int64(len(whole))-plain.Size())/2],
		"Flipped":   append(append(bytes.Clone(whole[:plain.Size()+50]), whole[plain.Size()+50]^0xff), whole[plain.Size()+51:]...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "app")
			must(t, os.WriteFile(bad, b, 0o755))
			code, out, errOut := runExe(t, bad, t.TempDir(), nil, "--addr", "127.0.0.1:0")
			if code != 1 || strings.Contains(out, "serving") || !strings.Contains(errOut, "damaged") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and one line saying it is damaged", code, out, errOut)
			}
		})
	}
}

// TestPlainWeftServesSample: weft as built, with nothing appended, still
// serves the built-in sample site.
func TestPlainWeftServesSample(t *testing.T) {
	banner, addr := startExe(t, weftBin(t), t.TempDir(), "--addr", "127.0.0.1:0", "--no-access-log")
	if !strings.Contains(banner, "the built-in sample site") {
		t.Errorf("banner %q", banner)
	}
	if raw := rawGet(t, addr, "/"); statusOf(raw) != "200" || !strings.Contains(bodyOf(raw), "weft") {
		t.Errorf("GET /: %.200s", raw)
	}
}

// TestPackRefuses: weft pack's usage errors are one line, with exit 2 for
// a malformed command line and 1 for what cannot be done here.
func TestPackRefuses(t *testing.T) {
	dir, _ := packSite(t)
	work := t.TempDir()
	must(t, os.WriteFile(filepath.Join(work, "file.txt"), []byte("x"), 0o644))
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"NoDir", []string{"-o", "app"}, 2, "no DIR"},
		{"NoOutput", []string{dir}, 2, "no output"},
		{"TwoDirs", []string{dir, dir, "-o", "app"}, 2, "one DIR only"},
		{"MissingDir", []string{filepath.Join(work, "nope"), "-o", "app"}, 1, "cannot pack"},
		{"DirIsFile", []string{filepath.Join(work, "file.txt"), "-o", "app"}, 1, "is not a folder"},
		{"OutputIsFolder", []string{dir, "-o", work}, 1, "is a folder"},
		{"OutputIsWeft", []string{dir, "-o", weftBin(t)}, 1, "weft's own executable"},
		{"OutputUnwritable", []string{dir, "-o", filepath.Join(work, "file.txt", "app")}, 1, "cannot write"},
		{"UnknownFlag", []string{dir, "-o", "app", "--no-such-flag"}, 2, "unknown flag"},
		{"BadValue", []string{dir, "-o", "app", "--port", "eighty"}, 1, "port"},
		{"Config", []string{dir, "-o", "app", "--config", "weft.toml"}, 1, "--config cannot be packed"},
		{"MissingSPA", []string{dir, "-o", "app", "--spa", "app.html"}, 1, "app.html"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := weft(t, work, nil, append([]string{"pack"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.want)
			}
			if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines > 1 || lines == 1 && !strings.Contains(errOut, "--help") {
				t.Errorf("stderr has %d lines: %q", lines+1, errOut)
			}
			if _, err := os.Stat(filepath.Join(work, "app")); err == nil {
				t.Errorf("an output was written")
			}
		})
	}
	code, out, _ := weft(t, work, nil, "pack", "--help")
	if code != 0 || !strings.Contains(out, "Usage: weft pack DIR -o FILE") || !strings.Contains(out, "--dotfiles") {
		t.Errorf("weft pack --help: exit %d, %q", code, out)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 1 {
		t.Errorf("the working folder holds %d names, want file.txt only (no temporary file left)", len(entries))
	}
}

// TestUploadsNeedADir: uploads to the built-in sample site or a packed
// one are refused at start with one line, exit status 1: that site is
// served from a temporary copy removed at exit, which took every upload
// with it.
func TestUploadsNeedADir(t *testing.T) {
	code, out, errOut := weft(t, t.TempDir(), nil, "serve", "--addr", "127.0.0.1:0", "--upload", "--upload-allow-anonymous")
	msg := strings.TrimSpace(errOut)
	if code != 1 || strings.Contains(out, "weft: serving") || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "--upload needs a folder") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and one line saying uploads need a folder", code, out, errOut)
	}
}
