package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPrecompressExitStatus runs `weft precompress` in-process through a
// deploy's life: a run, a clean check, a changed file, an orphan, a
// failure, and every usage error.
func TestPrecompressExitStatus(t *testing.T) {
	dir := t.TempDir()
	var js bytes.Buffer
	for i := 0; js.Len() < 6000; i++ {
		fmt.Fprintf(&js, "export const v%d = %d;\n", i, i*i)
	}
	write := func(name string, body []byte, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	write("app.js", js.Bytes(), hourAgo)
	write("tiny.css", []byte("a{}"), hourAgo)

	steps := []struct {
		name   string
		before func()
		args   []string
		code   int
		stdout []string // each must appear
		stderr string
	}{
		{"Run", nil, []string{"precompress", dir}, 0, []string{": 1 files; sidecars: 3 written, 0 up to date"}, ""},
		{"RunAgain", nil, []string{"precompress", "-v", dir}, 0, []string{"0 written, 3 up to date"}, ""},
		{"CheckClean", nil, []string{"precompress", "--check", dir}, 0, []string{"the sidecars of 1 files are up to date"}, ""},
		{"CheckStale", func() { write("app.js", append(js.Bytes(), "// more\n"...), time.Now()) },
			[]string{"precompress", dir, "--check"}, 1, []string{"stale    app.js.br\n", "stale    app.js.zst\n", "stale    app.js.gz\n", "3 stale, 0 missing, 0 orphan"}, ""},
		{"RunFixes", nil, []string{"precompress", "-v", dir}, 0, []string{fmt.Sprintf("wrote    app.js.br  %d → ", js.Len()+len("// more\n")), "3 written"}, ""},
		{"CheckFixed", nil, []string{"precompress", "--check", dir}, 0, nil, ""},
		{"CheckOrphan", func() { write("old.js.gz", []byte("x"), hourAgo) },
			[]string{"precompress", "--check", dir}, 1, []string{"orphan   old.js.gz  no old.js (--prune removes it)\n", "0 stale, 0 missing, 1 orphan"}, ""},
		{"RunKeepsOrphan", nil, []string{"precompress", dir}, 0, []string{"orphan   old.js.gz", "orphans: 1 kept, 0 pruned"}, ""},
		{"RunPrunes", nil, []string{"precompress", "--prune", dir}, 0, []string{"orphans: 0 kept, 1 pruned"}, ""},
		{"CheckMissing", func() { write("new.svg", js.Bytes(), hourAgo) },
			[]string{"precompress", "--check", "--codings", "gzip", dir}, 1, []string{"missing  new.svg.gz\n", "0 stale, 1 missing"}, ""},
		{"Failure", func() { os.Mkdir(filepath.Join(dir, "new.svg.br"), 0o755) },
			[]string{"precompress", dir}, 1, []string{"sidecars: 2 written", "1 errors"}, "weft precompress: new.svg.br: weft: not a regular file; left alone\n"},
		{"Help", nil, []string{"precompress", "--help"}, 0, []string{"--check writes nothing", "-j, --jobs"}, ""},
		{"NoDir", nil, []string{"precompress"}, 2, nil, "one DIR"},
		{"TwoDirs", nil, []string{"precompress", dir, dir}, 2, nil, "one DIR"},
		{"UnknownFlag", nil, []string{"precompress", "--bogus", dir}, 2, nil, "unknown flag: --bogus"},
		{"BadCodings", nil, []string{"precompress", "--codings", "br,lzma", dir}, 2, nil, `unknown coding "lzma"`},
		{"BadTypes", nil, []string{"precompress", "--compress-types", "text", dir}, 2, nil, "not a media type pattern"},
		{"NegativeJobs", nil, []string{"precompress", "-j", "-1", dir}, 2, nil, "must not be negative"},
		{"CheckAndPrune", nil, []string{"precompress", "--check", "--prune", dir}, 2, nil, "writes nothing"},
		{"MissingDir", nil, []string{"precompress", "/definitely/not/here"}, 1, nil, "weft: cannot precompress /definitely/not/here: no such file or directory"},
		{"NotADir", nil, []string{"precompress", filepath.Join(dir, "app.js")}, 1, nil, "not a directory"},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		var stdout, stderr bytes.Buffer
		code := run(st.args, &stdout, &stderr)
		if code != st.code {
			t.Errorf("%s: exit %d, want %d\nstdout %s\nstderr %s", st.name, code, st.code, stdout.String(), stderr.String())
		}
		for _, s := range st.stdout {
			if !strings.Contains(stdout.String(), s) {
				t.Errorf("%s: stdout %q lacks %q", st.name, stdout.String(), s)
			}
		}
		if !strings.Contains(stderr.String(), st.stderr) || (st.stderr == "" && stderr.Len() > 0) {
			t.Errorf("%s: stderr %q, want %q", st.name, stderr.String(), st.stderr)
		}
	}
}
