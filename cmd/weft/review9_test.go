//go:build linux

package main

// Review of issue 9 (reload wiring): failing reproduction. Run with
//
//	go test -count=1 -run 'TestReview9' ./cmd/weft

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
)

// TestReview9ReloadWithoutTheFileKeepsTheOldConfig: weft started in a
// folder whose weft.toml (found, not named) protects the site with
// basic_auth. The file goes away (a deploy that deletes and rewrites it,
// a checkout in progress, a mistaken rm) and SIGHUP arrives: the reload
// closure (main.go serve: config.Load(opts)) looks for weft.toml again,
// finds none, and Load treats that as "no file" (config.go Load), so
// the reload succeeds with the defaults: the root, the auth rules, every
// setting of the file is dropped at once and weft serves the built-in
// sample site without a password. A reload must read the file the
// server was started with, and a file that has gone is an invalid
// configuration that keeps the old one.
func TestReview9ReloadWithoutTheFileKeepsTheOldConfig(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site/index.html": "members only\n"})
	writeFile(t, filepath.Join(dir, "htpasswd"), htpasswdLine(t, "alice", "wonderland"))
	conf := filepath.Join(dir, "weft.toml")
	writeFile(t, conf, "root = \"site\"\nbasic_auth = \"htpasswd\"\n")
	s := serveRules(t, dir, nil, "--engine", "goroutine")
	if got := statusOf(ask(t, s.addr, "GET / HTTP/1.1", "Host: t")); got != "401" {
		t.Fatalf("before: %s, want 401", got)
	}
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, s.stderr, "signal received", 1)
	time.Sleep(100 * time.Millisecond)
	raw := ask(t, s.addr, "GET / HTTP/1.1", "Host: t")
	if got := statusOf(raw); got != "401" {
		t.Errorf("after SIGHUP with weft.toml gone: %s, want the old configuration's 401\n%.300s\nlog:\n%s", got, raw, s.stderr.String())
	}
	if strings.Contains(s.stderr.String(), "reload: serving the new configuration") {
		t.Errorf("the reload was accepted without the configuration file")
	}
}

// TestReview9RespawnedWorkerKeepsTheServedConfig: with the process
// engine, a worker that dies is restarted by the supervisor
// (supervisor_unix.go: "worker exited; restarting"), and the new worker
// reads the configuration file as it is now (it runs `weft serve` again:
// main.go serve → config.Load). A file edited but not reloaded (an
// operator mid-edit, a deploy that writes the file before its SIGHUP)
// is then served by that worker without the supervisor's check, next to
// workers serving the old one: "never half old, half new" does not hold
// across workers, and an edit nobody asked to apply goes live. The
// respawned worker must serve the configuration the supervisor last
// validated (e.g. pass it the validated file's contents, or refuse to
// start a worker on a file that changed since the last reload).
func TestReview9RespawnedWorkerKeepsTheServedConfig(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site/hello.txt": "hello\n"})
	conf := filepath.Join(dir, "weft.toml")
	generation := func(n int) {
		writeFile(t, conf, "root = \"site\"\n\n[[headers]]\nfor = \"*.txt\"\nset = { X-Generation = \""+string(rune('0'+n))+"\" }\n")
	}
	generation(1)
	s := serveRules(t, dir, nil, "--engine", "process", "--workers", "1")
	waitLog(t, s.stderr, "workers ready", 1)
	gen := func() string {
		return header(ask(t, s.addr, "GET /hello.txt HTTP/1.1", "Host: t"), "X-Generation")
	}
	if g := gen(); g != "1" {
		t.Fatalf("before: generation %q", g)
	}
	generation(2) // edited, not reloaded
	var children []byte
	tasks, _ := filepath.Glob(filepath.Join("/proc", itoa(s.cmd.Process.Pid), "task", "*", "children"))
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		children = append(append(children, b...), ' ')
	}
	if len(strings.Fields(string(children))) == 0 {
		t.Skipf("no worker pid in %v", tasks)
	}
	for _, f := range strings.Fields(string(children)) {
		syscall.Kill(atoiOr0(f), syscall.SIGKILL)
	}
	waitLog(t, s.stderr, "worker exited; restarting", 1)
	var g string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if g = tryGen(s.addr); g != "" {
			break
		}
	}
	if g != "1" {
		t.Errorf("after a worker crash, with the file edited but no SIGHUP: generation %q served, want the validated 1\n%s", g, s.stderr.String())
	}
}

func itoa(n int) string { return fmtInt(n) }

func fmtInt(n int) string { return strconv.Itoa(n) }

func atoiOr0(s string) int { n, _ := strconv.Atoi(s); return n }

// tryGen is one GET /hello.txt that tolerates a refused or cut
// connection (a worker still starting), returning X-Generation or "".
func tryGen(addr string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	fmt.Fprint(c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	raw, _, err := conformance.ReadResponse(bufio.NewReader(c))
	if err != nil {
		return ""
	}
	return header(raw, "X-Generation")
}

// TestReview9ConfigCheckOpensWhatServeOpens: `weft config check` (and
// `weft reload`, which checks before it signals) says a configuration is
// fine when `weft serve` refuses it at once: the SPA file and the error
// pages must exist beneath the root (site.Open → checkFiles), which
// check never looks at (config.go check → checkRoot stats the root
// only). The operator is told "valid", reloads, and the server logs
// "cannot open the new site".
func TestReview9ConfigCheckOpensWhatServeOpens(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site/index.html": "home\n"})
	writeFile(t, filepath.Join(dir, "weft.toml"), "root = \"site\"\nspa = \"app.html\"\n\n[error_pages]\n\"404\" = \"404.html\"\n")
	code, _, stderr := weft(t, dir, nil, "config", "check")
	if code == 0 {
		t.Errorf("weft config check: exit 0 for a configuration weft serve refuses (spa app.html and 404.html missing)\n%s", stderr)
	}
}
