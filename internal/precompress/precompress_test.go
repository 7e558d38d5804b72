package precompress_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/precompress"
)

// text is n bytes of compressible text, different for each seed.
func text(n, seed int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "function f%d_%d(x) { return x * %d + %q; }\n", seed, i, i%17, "weft")
	}
	return b.Bytes()[:n]
}

// noise is n bytes that do not compress.
func noise(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{7}).Read(b)
	return b
}

// tree writes files (path → content) beneath dir, with modification time
// an hour ago, so that a later change is newer whatever the clock's grain.
func tree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs (or checks) dir with cfg and returns the report and the items
// Progress saw, as "action sidecar" strings, sorted. It fails if a
// temporary file is left.
func run(t *testing.T, check bool, cfg precompress.Config) (precompress.Report, []string) {
	t.Helper()
	var seen []string
	cfg.Progress = func(it precompress.Item) {
		s := it.Action.String() + " " + it.Sidecar()
		if it.Err != nil {
			s += ": " + it.Err.Error()
		}
		seen = append(seen, s)
	}
	do := precompress.Run
	if check {
		do = precompress.Check
	}
	rep, err := do(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	leftovers(t, cfg.Dir)
	slices.Sort(seen)
	return rep, seen
}

func sidecars(names ...string) []string {
	var out []string
	for _, n := range names {
		for _, c := range codec.Encoded {
			out = append(out, n+c.Ext())
		}
	}
	return out
}

func exists(t *testing.T, dir, name string) bool {
	t.Helper()
	_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// systemDecoder returns the path of the command-line decoder of c, or ""
// when it is not installed (a failure when WEFT_TEST_REQUIRE_DECODERS is set, as
// CI does).
func systemDecoder(t *testing.T, c codec.Coding) string {
	tool := map[codec.Coding]string{codec.Brotli: "brotli", codec.Zstd: "zstd", codec.Gzip: "gzip"}[c]
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("WEFT_TEST_REQUIRE_DECODERS") != "" {
			t.Fatalf("%s not installed and WEFT_TEST_REQUIRE_DECODERS is set", tool)
		}
		t.Logf("%s not installed: sidecars checked with codec.Decompress only", tool)
		return ""
	}
	return p
}

// checkSidecars: each sidecar of name decodes to the original byte for
// byte (with our decoder and the system's), and has the original's
// permission bits and modification time.
func checkSidecars(t *testing.T, dir, name string) {
	t.Helper()
	orig := filepath.Join(dir, filepath.FromSlash(name))
	want, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	ofi, _ := os.Stat(orig)
	for _, c := range codec.Encoded {
		side := orig + c.Ext()
		enc, err := os.ReadFile(side)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := codec.Decompress(c, enc); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: decodes to %d bytes (%v), want the original's %d", side, len(got), err, len(want))
		}
		if len(enc)*100 > len(want)*95 {
			t.Errorf("%s: %d bytes of %d kept: not 5%% smaller", side, len(enc), len(want))
		}
		if tool := systemDecoder(t, c); tool != "" {
			got, err := exec.Command(tool, "-dc", side).Output()
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s -dc %s: %d bytes (%v), want the original's %d", tool, side, len(got), err, len(want))
			}
		}
		sfi, _ := os.Stat(side)
		if !sfi.ModTime().Equal(ofi.ModTime()) || sfi.Mode() != ofi.Mode() {
			t.Errorf("%s: %v %v, want the original's %v %v", side, sfi.Mode(), sfi.ModTime(), ofi.Mode(), ofi.ModTime())
		}
	}
}

func TestPrecompressWritesSidecars(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string][]byte{
		"app.js":                    text(20000, 1),
		"css/style.css":             text(5000, 2),
		".well-known/security.txt":  text(2000, 3),
		"tiny.txt":                  text(500, 4),  // below --min-bytes
		"empty.css":                 {},            // below --min-bytes
		"photo.png":                 text(5000, 5), // not a compressible type
		".env.txt":                  text(5000, 6), // dotfile
		".git/config.txt":           text(5000, 7), // dot-folder
		"dl/archive.tar.gz":         text(5000, 8), // a sidecar's name is never an original's
		"weird name\n\"quoted\".js": text(3000, 10),
		"sub/deep/er/data.json":     text(4000, 11),
		"sub/deep/er/data.json.br":  []byte("stale, replaced"),
	})
	if err := os.Chtimes(filepath.Join(dir, "sub/deep/er/data.json.br"), time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "css/style.css"), 0o640)
	// application/gzip included: dl/archive.tar.gz is skipped by its name.
	cfg := precompress.Config{Dir: dir, MinBytes: precompress.DefaultMinBytes, Types: codec.DefaultTypes + ",application/gzip"}
	rep, seen := run(t, false, cfg)
	written := []string{"app.js", "css/style.css", ".well-known/security.txt", "weird name\n\"quoted\".js", "sub/deep/er/data.json"}
	var want []string
	for _, s := range sidecars(written...) {
		want = append(want, "wrote "+s)
	}
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("items:\n%q\nwant\n%q", seen, want)
	}
	if rep.Files != len(written) || rep.Errors != 0 {
		t.Errorf("report %+v", rep)
	}
	for _, c := range codec.Encoded {
		if tl := rep.Coding[c]; tl.Written != len(written) || tl.Out >= tl.In || tl.In == 0 {
			t.Errorf("%s: %+v", c, tl)
		}
	}
	for _, name := range written {
		checkSidecars(t, dir, name)
	}
	for _, name := range []string{"tiny.txt", "photo.png", ".env.txt", ".git/config.txt", "dl/archive.tar.gz", "empty.css"} {
		for _, s := range sidecars(name) {
			if exists(t, dir, s) {
				t.Errorf("%s written", s)
			}
		}
	}
	if exists(t, dir, precompress.NoGainFile) {
		t.Errorf("%s written though every file shrank", precompress.NoGainFile)
	}
	if rep, seen := run(t, true, cfg); rep.Problems() != 0 || len(seen) != 0 {
		t.Errorf("check after a run: %+v %q", rep, seen)
	}
}

// snapshot maps every file and folder beneath dir to its FileInfo.
func snapshot(t *testing.T, dir string) map[string]fs.FileInfo {
	t.Helper()
	m := map[string]fs.FileInfo{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		m[p], _ = d.Info()
		return nil
	})
	return m
}

// unchanged reports whether two snapshots hold the same files, each the
// same file (not a replacement) with the same size, time and mode.
func unchanged(a, b map[string]fs.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for p, x := range a {
		y, ok := b[p]
		if !ok || !os.SameFile(x, y) || x.Size() != y.Size() || !x.ModTime().Equal(y.ModTime()) || x.Mode() != y.Mode() {
			return false
		}
	}
	return true
}

// TestPrecompressIdempotent: a second run writes nothing and does not
// compress again what did not shrink (issue 8).
func TestPrecompressIdempotent(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string][]byte{"app.js": text(8000, 1), "noise.txt": noise(8000), "tiny.txt": noise(100)})
	cfg := precompress.Config{Dir: dir, MinBytes: precompress.DefaultMinBytes}
	rep, seen := run(t, false, cfg)
	want := []string{"no gain noise.txt.br", "no gain noise.txt.gz", "no gain noise.txt.zst", "wrote app.js.br", "wrote app.js.gz", "wrote app.js.zst"}
	if !slices.Equal(seen, want) || rep.Files != 2 {
		t.Fatalf("first run: %+v\n%q", rep, seen)
	}
	for _, s := range sidecars("noise.txt") {
		if exists(t, dir, s) {
			t.Errorf("%s written though it did not shrink", s)
		}
	}
	list, err := os.ReadFile(filepath.Join(dir, precompress.NoGainFile))
	if err != nil || strings.Count(string(list), `"noise.txt"`) != 3 {
		t.Fatalf("no-gain list %q: %v", list, err)
	}
	before := snapshot(t, dir)
	for range 2 {
		rep, seen = run(t, false, cfg)
		if len(seen) != 0 {
			t.Errorf("second run did something: %q", seen)
		}
		for _, c := range codec.Encoded {
			if tl := rep.Coding[c]; tl.UpToDate != 2 || tl.Written+tl.NoGain+tl.Removed != 0 {
				t.Errorf("second run, %s: %+v", c, tl)
			}
		}
		if after := snapshot(t, dir); !unchanged(before, after) {
			t.Errorf("second run changed the tree:\n%v\n%v", before, after)
		}
	}
	if rep, seen := run(t, true, cfg); rep.Problems() != 0 {
		t.Errorf("check: %+v %q", rep, seen)
	}
	// --force compresses everything again; the noise still does not shrink.
	rep, seen = run(t, false, precompress.Config{Dir: dir, MinBytes: precompress.DefaultMinBytes, Force: true})
	if !slices.Equal(seen, want) {
		t.Errorf("forced run: %q", seen)
	}
	// The noise turned text: it is compressed, and forgotten by the list.
	tree(t, dir, map[string][]byte{"noise.txt": text(8000, 2)})
	now := time.Now()
	os.Chtimes(filepath.Join(dir, "noise.txt"), now, now)
	if _, seen := run(t, false, cfg); !slices.Equal(seen, []string{"wrote noise.txt.br", "wrote noise.txt.gz", "wrote noise.txt.zst"}) {
		t.Errorf("after the noise became text: %q", seen)
	}
	if exists(t, dir, precompress.NoGainFile) {
		t.Errorf("%s kept after its last entry went", precompress.NoGainFile)
	}
}

// touch gives name new content and a modification time of now.
func touch(t *testing.T, dir, name string, body []byte) {
	t.Helper()
	tree(t, dir, map[string][]byte{name: body})
	now := time.Now()
	if err := os.Chtimes(filepath.Join(dir, name), now, now); err != nil {
		t.Fatal(err)
	}
}

func TestPrecompressStaleAndMissing(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string][]byte{"app.js": text(8000, 1), "small.txt": text(3000, 2)})
	cfg := precompress.Config{Dir: dir, MinBytes: precompress.DefaultMinBytes}
	run(t, false, cfg)
	touch(t, dir, "app.js", text(9000, 3))
	touch(t, dir, "new.css", text(4000, 4))
	touch(t, dir, "small.txt", text(100, 5)) // now below --min-bytes: its sidecars go
	rep, seen := run(t, true, cfg)
	want := []string{
		"missing new.css.br", "missing new.css.gz", "missing new.css.zst",
		"stale app.js.br", "stale app.js.gz", "stale app.js.zst",
		"stale small.txt.br", "stale small.txt.gz", "stale small.txt.zst",
	}
	if !slices.Equal(seen, want) || rep.Stale != 6 || rep.Missing != 3 || rep.Problems() != 9 {
		t.Fatalf("check: %+v\n%q", rep, seen)
	}
	rep, seen = run(t, false, cfg)
	want = []string{
		"removed small.txt.br", "removed small.txt.gz", "removed small.txt.zst",
		"wrote app.js.br", "wrote app.js.gz", "wrote app.js.zst",
		"wrote new.css.br", "wrote new.css.gz", "wrote new.css.zst",
	}
	if !slices.Equal(seen, want) || rep.Coding[codec.Brotli].Removed != 1 {
		t.Fatalf("run: %+v\n%q", rep, seen)
	}
	checkSidecars(t, dir, "app.js")
	checkSidecars(t, dir, "new.css")
	if rep, seen := run(t, true, cfg); rep.Problems() != 0 || len(seen) != 0 {
		t.Errorf("check after the run: %+v %q", rep, seen)
	}
	// A stale sidecar of an original that no longer shrinks is removed.
	touch(t, dir, "app.js", noise(9000))
	if _, seen := run(t, false, cfg); !slices.Equal(seen, []string{"no gain app.js.br", "no gain app.js.gz", "no gain app.js.zst"}) {
		t.Errorf("after app.js turned noise: %q", seen)
	}
	for _, s := range sidecars("app.js") {
		if exists(t, dir, s) {
			t.Errorf("stale %s kept", s)
		}
	}
}

func TestPrecompressOrphans(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string][]byte{
		"gone.js.br":        text(100, 1), // orphans
		"gone.js.gz":        text(100, 1),
		"archive.tar.gz":    text(100, 1), // a .tar is no original: a download in its own right
		"blob.bin.zst":      text(100, 1),
		"link.js.br":        text(100, 1), // its original is a link
		".hidden.js.br":     text(100, 1), // a dotfile
		"kept/app.css.gz":   text(100, 1), // of an original below --min-bytes: no orphan
		"kept/app.css":      text(100, 1),
		"noorig.js.gz.br":   text(100, 1), // of a sidecar name: no orphan
		"sub/old.json.zst":  text(100, 1), // an orphan in a folder
		"sub/other.txt.zst": text(100, 1),
	})
	if err := os.Symlink("kept/app.css", filepath.Join(dir, "link.js")); err != nil {
		t.Fatal(err)
	}
	cfg := precompress.Config{Dir: dir, MinBytes: precompress.DefaultMinBytes}
	orphans := []string{"orphan gone.js.br", "orphan gone.js.gz", "orphan sub/old.json.zst", "orphan sub/other.txt.zst"}
	rep, seen := run(t, true, cfg)
	if !slices.Equal(seen, orphans) || rep.Orphans != 4 || rep.Problems() != 4 {
		t.Fatalf("check: %+v\n%q", rep, seen)
	}
	// Only the selected codings' orphans are listed.
	if _, seen := run(t, true, precompress.Config{Dir: dir, MinBytes: precompress.DefaultMinBytes, Codings: []codec.Coding{codec.Zstd}}); !slices.Equal(seen, orphans[2:]) {
		t.Errorf("check of zstd alone: %q", seen)
	}
	// A run lists them and leaves them; with Prune it removes them.
	if rep, seen := run(t, false, cfg); !slices.Equal(seen, orphans) || rep.Orphans != 4 || !exists(t, dir, "gone.js.br") {
		t.Fatalf("run: %+v %q", rep, seen)
	}
	cfg.Prune = true
	rep, seen = run(t, false, cfg)
	if want := strings.Split("pruned gone.js.br,pruned gone.js.gz,pruned sub/old.json.zst,pruned sub/other.txt.zst", ","); !slices.Equal(seen, want) || rep.Pruned != 4 {
		t.Fatalf("prune: %+v %q", rep, seen)
	}
	for _, name := range []string{"archive.tar.gz", "blob.bin.zst", "link.js.br", ".hidden.js.br", "kept/app.css.gz", "noorig.js.gz.br"} {
		if !exists(t, dir, name) {
			t.Errorf("%s removed", name)
		}
	}
	if rep, seen := run(t, true, cfg); rep.Problems() != 0 {
		t.Errorf("check after prune: %+v %q", rep, seen)
	}
}

// TestPrecompressSymlinks: links are not followed, out of the tree or in
// it, and nothing is written through one.
func TestPrecompressSymlinks(t *testing.T) {
	outside, dir := t.TempDir(), t.TempDir()
	tree(t, outside, map[string][]byte{"big.js": text(8000, 1), "d/in.js": text(8000, 2), "evil": []byte("keep")})
	tree(t, dir, map[string][]byte{"app.js": text(8000, 3)})
	for link, target := range map[string]string{
		"link.js":    filepath.Join(outside, "big.js"),
		"linkdir":    filepath.Join(outside, "d"),
		"rel.js":     "../" + filepath.Base(outside) + "/big.js",
		"app.js.zst": filepath.Join(outside, "evil"), // a sidecar that is a link is left alone
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	rep, seen := run(t, false, precompress.Config{Dir: dir})
	want := []string{"failed app.js.zst: weft: not a regular file; left alone", "wrote app.js.br", "wrote app.js.gz"}
	if !slices.Equal(seen, want) || rep.Files != 1 || rep.Errors != 1 {
		t.Errorf("run: %+v\n%q", rep, seen)
	}
	if got, _ := os.ReadFile(filepath.Join(outside, "evil")); string(got) != "keep" {
		t.Errorf("written through a link: %q", got)
	}
	for _, name := range []string{"big.js.br", "big.js.gz", "d/in.js.br", "d/in.js.gz"} {
		if exists(t, outside, name) {
			t.Errorf("%s written outside the tree", name)
		}
	}
	for _, name := range []string{"link.js.br", "rel.js.br", "linkdir/in.js.br"} {
		if exists(t, dir, name) {
			t.Errorf("%s written for a link", name)
		}
	}
}

// TestPrecompressFailureDoesNotStopOthers: a sidecar that cannot be
// written is reported and the rest are written.
func TestPrecompressFailureDoesNotStopOthers(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string][]byte{"a.js": text(8000, 1), "b.js": text(8000, 2), "c.js.gz/x": nil})
	tree(t, dir, map[string][]byte{"c.js": text(8000, 3)})
	rep, seen := run(t, false, precompress.Config{Dir: dir, Jobs: 1})
	if rep.Errors != 1 || len(seen) != 9 || !slices.Contains(seen, "failed c.js.gz: weft: not a regular file; left alone") {
		t.Errorf("%+v\n%q", rep, seen)
	}
	checkSidecars(t, dir, "a.js")
	checkSidecars(t, dir, "b.js")
	leftovers(t, dir)
}

// leftovers fails if a temporary file is left beneath dir.
func leftovers(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if strings.Contains(d.Name(), ".weft-") && d.Name() != precompress.NoGainFile {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// TestPrecompressCancel: a run whose context has ended starts no more
// work, reports none of the work it cut short as failed, and leaves no
// temporary file (a task may still begin: its first read fails).
func TestPrecompressCancel(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string][]byte{"a.js": text(20000, 1), "b.js": text(8000, 2)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var seen []precompress.Item
	cfg := precompress.Config{Dir: dir, Jobs: 1, Progress: func(it precompress.Item) { seen = append(seen, it) }}
	if _, err := precompress.Run(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	if len(seen) != 0 {
		t.Errorf("items: %+v", seen)
	}
	for _, s := range sidecars("a.js", "b.js") {
		if exists(t, dir, s) {
			t.Errorf("%s written after the cancel", s)
		}
	}
	leftovers(t, dir)
}

func TestConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  precompress.Config
		err  string
	}{
		{"Defaults", precompress.Config{Dir: "."}, ""},
		{"NoDir", precompress.Config{}, "no folder"},
		{"BadTypes", precompress.Config{Dir: ".", Types: "text"}, "not a media type pattern"},
		{"NegativeJobs", precompress.Config{Dir: ".", Jobs: -1}, "must not be negative"},
		{"NegativeMin", precompress.Config{Dir: ".", MinBytes: -1}, "must not be negative"},
		{"Identity", precompress.Config{Dir: ".", Codings: []codec.Coding{codec.Identity}}, "each of br, zstd and gzip"},
		{"Twice", precompress.Config{Dir: ".", Codings: []codec.Coding{codec.Gzip, codec.Gzip}}, "at most once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Validate: %v, want %q", err, tc.err)
			}
		})
	}
	if _, err := precompress.Run(context.Background(), precompress.Config{Dir: "/definitely/not/here"}); err == nil {
		t.Error("Run of a missing folder: no error")
	}
}

func TestParseCodings(t *testing.T) {
	cases := []struct {
		in   string
		want []codec.Coding
		err  string
	}{
		{"br,zstd,gzip", []codec.Coding{codec.Brotli, codec.Zstd, codec.Gzip}, ""},
		{" gzip , BR ", []codec.Coding{codec.Gzip, codec.Brotli}, ""},
		{"br,br", []codec.Coding{codec.Brotli}, ""},
		{"deflate", nil, `unknown coding "deflate"`},
		{"identity", nil, "unknown coding"},
		{",", nil, "no codings"},
	}
	for _, tc := range cases {
		got, err := precompress.ParseCodings(tc.in)
		if !slices.Equal(got, tc.want) || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseCodings(%q) = %v, %v; want %v, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}
