//go:build linux

package main

// Review of issue 9 (reload wiring): failing reproduction. Run with
//
//	go test -count=1 -run 'TestReview9' ./cmd/weft

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
