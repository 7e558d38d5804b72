//go:build linux

package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStaticBuild builds weft as the container image does, with the
// script the Dockerfile runs (contrib/build-static.sh), and checks what
// the image relies on: the executable is static (no interpreter, no
// dynamic section: it runs on distroless/static or scratch), stripped,
// free of the build machine's paths, and reports the version it was
// given. Docker itself cannot run here: the Dockerfile is checked to run
// that script and to keep its promises (non-root, port 8080, /site).
func TestStaticBuild(t *testing.T) {
	top, err := filepath.Abs(filepath.Join("..", ".."))
	must(t, err)
	docker, err := os.ReadFile(filepath.Join(top, "Dockerfile"))
	must(t, err)
	for _, re := range []string{
		`(?m)^FROM golang:1\.26 AS build$`,
		`(?m)^RUN sh contrib/build-static\.sh /out/weft "\$VERSION"$`,
		`(?m)^FROM gcr\.io/distroless/static[^ ]*:nonroot$`,
		`(?m)^COPY --from=build /out/weft /usr/local/bin/weft$`,
		`(?m)^USER 65532:65532$`,
		`(?m)^EXPOSE 8080$`,
		`WEFT_ADDR=0\.0\.0\.0:8080`,
		`WEFT_ROOT=/site`,
		`(?m)^ENTRYPOINT \["/usr/local/bin/weft", "serve"\]$`,
	} {
		if !regexp.MustCompile(re).Match(docker) {
			t.Errorf("Dockerfile: no line matching %s", re)
		}
	}
	if n := strings.Count(string(docker), "go build"); n != 0 {
		t.Errorf("Dockerfile runs go build itself (%d times): it must build with contrib/build-static.sh only", n)
	}

	out := filepath.Join(t.TempDir(), "weft")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "contrib/build-static.sh", out, "v0.0.0-static-test")
	cmd.Dir = top
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("contrib/build-static.sh: %v\n%s", err, b)
	}
	ef, err := elf.Open(out)
	must(t, err)
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the executable is not static", p.Type)
		}
	}
	for _, name := range []string{".interp", ".dynamic", ".dynsym"} {
		if ef.Section(name) != nil {
			t.Errorf("section %s: the executable is not static", name)
		}
	}
	if _, err := ef.Symbols(); !errors.Is(err, elf.ErrNoSymbols) {
		t.Errorf("the executable has a symbol table (%v): not built with -s", err)
	}
	b, err := os.ReadFile(out)
	must(t, err)
	if bytes.Contains(b, []byte(top)) {
		t.Errorf("the executable holds the build folder's path %s: not built with -trimpath", top)
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.Contains(string(v), "v0.0.0-static-test") {
		t.Errorf("weft version: %q, %v; want the version given to the build", v, err)
	}
	t.Logf("static weft: %d bytes (%.1f MiB)", len(b), float64(len(b))/(1<<20))
}
