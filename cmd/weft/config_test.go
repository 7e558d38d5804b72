//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
)

// weft runs the binary in dir with env added and returns its exit code,
// standard output and standard error. It must exit within 10 s.
func weft(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runExe(t, weftBin(t), dir, env, args...) // built before the 10 s start
}

// runExe runs exe in dir with env added and returns its exit code,
// standard output and standard error. It must exit within 10 s.
func runExe(t *testing.T, exe, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%s %q: %v; stderr %s", exe, args, err, stderr.String())
	return 0, "", ""
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	// Write then rename: a server reading it on SIGHUP never sees half.
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// TestConfigErrors: an unknown key, a wrong type or a bad value in the
// file, the environment or a flag stops `weft serve` with exit status 2
// and the place of the problem; `weft config check` says the same.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		file string
		env  []string
		args []string
		want string
	}{
		{"UnknownKey", "port = 0\n\nmax_conn = 5\n", nil, nil, `weft: bad.toml:3: unknown key "max_conn" (did you mean "max_conns"?)`},
		{"WrongType", "# ports\nport = \"8080\"\n", nil, nil, `weft: bad.toml:2: port: want an integer, got a string`},
		{"BadValue", "index = \"i.html\"\nidle_timeout = \"-5s\"\n", nil, nil, `weft: bad.toml:2: idle_timeout: must be positive, got -5s`},
		{"BadRule", "cache_control = [\n  \"*.txt=max-age=1\",\n  \"*.css\",\n]\n", nil, nil, `weft: bad.toml:3: cache_control[1]: want GLOB=VALUE`},
		{"Syntax", "engine = \"epoll\n", nil, nil, `weft: bad.toml:1: `},
		{"EnvTypo", "", []string{"WEFT_MAX_CONN=5"}, nil, `weft: env WEFT_MAX_CONN: unknown variable (did you mean WEFT_MAX_CONNS?)`},
		{"EnvValue", "", []string{"WEFT_MAX_CONNS=many"}, nil, `weft: env WEFT_MAX_CONNS: want an integer, got "many"`},
		{"FlagValue", "", nil, []string{"--max-conns", "0"}, `weft: flag --max-conns: must be positive, got 0`},
		{"Two", "log_format = \"xml\"\n", []string{"WEFT_PORT=x"}, nil, "weft: env WEFT_PORT: want an integer, got \"x\"\nweft: bad.toml:1: log_format: unknown log format \"xml\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "bad.toml"), tc.file)
			for _, cmd := range [][]string{{"serve", "-p", "0"}, {"config", "check"}} {
				args := append(append(cmd, "--config", "bad.toml"), tc.args...)
				code, stdout, stderr := weft(t, dir, tc.env, args...)
				if code != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
					t.Errorf("weft %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", strings.Join(args, " "), code, stdout, stderr, tc.want)
				}
			}
		})
	}
	// An engine this build lacks is a well-formed value: exit 1, as ever.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "weft.toml"), "\nengine = \"fibers\"\n")
	if code, _, stderr := weft(t, dir, nil, "serve", "-p", "0"); code != 1 || !strings.Contains(stderr, `weft: weft.toml:2: engine: unknown engine "fibers"`) {
		t.Errorf("unknown engine: exit %d, %s", code, stderr)
	}
}

// TestConfigPrecedence: the same key from the file, the environment and a
// flag, over real sockets, and `weft config check`'s account of it.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "site")
	os.Mkdir(root, 0o755)
	for name, body := range map[string]string{"a.txt": "a\n", "file.html": "from the file\n", "env.html": "from the environment\n"} {
		writeFile(t, filepath.Join(root, name), body)
	}
	writeFile(t, filepath.Join(dir, "weft.toml"), `# the file
root = "site"
cache_control = ["*.txt=max-age=1"]
index = "file.html"
etag = "content"
`)
	env := []string{"WEFT_CACHE_CONTROL=*.txt=max-age=2", "WEFT_INDEX=env.html"}
	cases := []struct {
		env          []string
		args         []string
		cache, index string
	}{
		{nil, nil, "max-age=1", "from the file"},
		{env, nil, "max-age=2", "from the environment"},
		{env, []string{"--cache-control", "*.txt=max-age=3"}, "max-age=3", "from the environment"},
	}
	for _, tc := range cases {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		s := startServeIn(t, dir, tc.env, pr, pw, nil, append([]string{"--no-access-log", "--engine", "goroutine"}, tc.args...)...)
		pr.Close()
		if raw := rawGet(t, s.addr, "/a.txt"); header(raw, "Cache-Control") != tc.cache {
			t.Errorf("%v %v: Cache-Control %q, want %q", tc.env, tc.args, header(raw, "Cache-Control"), tc.cache)
		}
		if raw := rawGet(t, s.addr, "/"); !strings.HasSuffix(raw, "\r\n\r\n"+tc.index+"\n") {
			t.Errorf("%v %v: / answered %q, want %q", tc.env, tc.args, raw, tc.index)
		}
	}
	code, out, stderr := weft(t, dir, env, "config", "check", "--cache-control", "*.txt=max-age=3")
	if code != 0 {
		t.Fatalf("config check: exit %d: %s", code, stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^# configuration file: weft\.toml$`),
		regexp.MustCompile(`(?m)^root = "site" +# weft\.toml:2$`),
		regexp.MustCompile(`(?m)^cache_control = \["\*\.txt=max-age=3"\] +# flag --cache-control$`),
		regexp.MustCompile(`(?m)^index = "env\.html" +# env WEFT_INDEX$`),
		regexp.MustCompile(`(?m)^etag = "content" +# weft\.toml:5$`),
		regexp.MustCompile(`(?m)^addr = "127\.0\.0\.1:8080" +# default$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("config check output lacks %s:\n%s", want, out)
		}
	}
}

// TestConfigExample: `weft config example` is a file that sets every key
// it shows to its default. (Without TestMain's WEFT_ALLOW_ROOT, which would
// set allow_root.)
func TestConfigExample(t *testing.T) {
	dir := t.TempDir()
	os.Unsetenv("WEFT_ALLOW_ROOT") // no test runs in parallel with this one
	t.Cleanup(func() { os.Setenv("WEFT_ALLOW_ROOT", "1") })
	code, example, _ := weft(t, dir, nil, "config", "example")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	writeFile(t, filepath.Join(dir, "example.toml"), example)
	code, fromFile, stderr := weft(t, dir, nil, "config", "check", "--config", "example.toml")
	if code != 0 {
		t.Fatalf("config check of the example: exit %d: %s", code, stderr)
	}
	_, defaults, _ := weft(t, dir, nil, "config", "check", "--config", "")
	values := func(out string) (vals []string, sources []string) {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			v, src, _ := strings.Cut(line, "  # ")
			vals = append(vals, strings.TrimSpace(v))
			sources = append(sources, src)
		}
		return vals, sources
	}
	got, sources := values(fromFile)
	want, _ := values(defaults)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the example's values:\n%s\nthe defaults:\n%s", fromFile, defaults)
	}
	for i, src := range sources {
		if !strings.HasPrefix(src, "example.toml:") && !strings.HasPrefix(got[i], "# ") {
			t.Errorf("%s comes from %s, not the example", got[i], src)
		}
	}
}

// TestReloadKeepsServingOnBadConfig: a reload (weft reload, through the
// pid file) with a bad file keeps the old configuration serving and says
// where the file is wrong; a good one is served; a change that needs a
// restart is reported.
func TestReloadKeepsServingOnBadConfig(t *testing.T) {
	for _, eng := range []string{"goroutine", "process"} {
		t.Run(eng, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "site"), 0o755)
			writeFile(t, filepath.Join(dir, "site", "a.txt"), "a\n")
			conf := filepath.Join(dir, "weft.toml")
			pid := filepath.Join(dir, "weft.pid")
			good := func(n int, extra string) string {
				return fmt.Sprintf("root = \"site\"\npid_file = \"weft.pid\"\ncache_control = [\"*.txt=max-age=%d\"]\n%s", n, extra)
			}
			writeFile(t, conf, good(1, ""))
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			s := startServeIn(t, dir, nil, pr, pw, nil, "--no-access-log", "--engine", eng, "--workers", "2")
			pr.Close()
			if eng == "process" {
				// Workers read the file as they start: let them all
				// have read the good one.
				waitLog(t, s.stderr, "workers ready", 1)
			}
			if b, err := os.ReadFile(pid); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(s.cmd.Process.Pid) {
				t.Fatalf("pid file: %q, %v", b, err)
			}
			cacheControl := func() string { return header(rawGet(t, s.addr, "/a.txt"), "Cache-Control") }
			if cc := cacheControl(); cc != "max-age=1" {
				t.Fatalf("before: %q; stderr:\n%s", cc, s.stderr.String())
			}
			reload := func() {
				t.Helper()
				if code, _, stderr := weft(t, dir, nil, "reload"); code != 0 {
					t.Fatalf("weft reload: exit %d: %s", code, stderr)
				}
			}

			writeFile(t, conf, good(2, "max_conn = 5\n"))
			// weft reload checks first, and sends nothing.
			code, _, stderr := weft(t, dir, nil, "reload")
			if want := `weft: weft.toml:4: unknown key "max_conn"`; code != 2 || !strings.Contains(stderr, want) {
				t.Errorf("weft reload of a bad file: exit %d, %s; want exit 2 and %s", code, stderr, want)
			}
			time.Sleep(100 * time.Millisecond)
			if strings.Contains(s.stderr.String(), "signal received") {
				t.Errorf("weft reload signalled with a bad file:\n%s", s.stderr.String())
			}
			// SIGHUP itself: the server checks and keeps the old one.
			s.cmd.Process.Signal(syscall.SIGHUP)
			waitLog(t, s.stderr, "reload: invalid configuration", 1)
			if want := `weft.toml:4: unknown key \"max_conn\"`; !strings.Contains(s.stderr.String(), want) {
				t.Errorf("the log does not say %s:\n%s", want, s.stderr.String())
			}
			if eng == "process" {
				waitLog(t, s.stderr, "workers=kept", 1)
			}
			if cc := cacheControl(); cc != "max-age=1" {
				t.Errorf("after a bad reload: %q, want the old max-age=1", cc)
			}
			// A log template naming an unknown variable is refused
			// the same way, naming it.
			writeFile(t, conf, good(2, "log_format = '$remote_addr $nope'\n"))
			s.cmd.Process.Signal(syscall.SIGHUP)
			waitLog(t, s.stderr, "reload: invalid configuration", 2)
			if want := `log_format: unknown variable $nope`; !strings.Contains(s.stderr.String(), want) {
				t.Errorf("the log does not say %s:\n%s", want, s.stderr.String())
			}
			if eng == "process" {
				waitLog(t, s.stderr, "workers=kept", 2)
			}
			if cc := cacheControl(); cc != "max-age=1" {
				t.Errorf("after a bad template: %q, want the old max-age=1", cc)
			}

			writeFile(t, conf, good(3, "port = 1\n"))
			reload()
			if eng == "process" {
				waitLog(t, s.stderr, "reload: old workers stopped", 1)
			} else {
				waitLog(t, s.stderr, "reload: serving the new configuration", 1)
			}
			if !strings.Contains(s.stderr.String(), "needs_restart=port") {
				t.Errorf("the log does not say that port needs a restart:\n%s", s.stderr.String())
			}
			if cc := cacheControl(); cc != "max-age=3" {
				t.Errorf("after a good reload: %q, want max-age=3", cc)
			}
			if !s.alive() {
				t.Fatalf("weft died: %s", s.stderr.String())
			}
			s.cmd.Process.Signal(os.Interrupt)
			<-s.exited
			if _, err := os.Stat(pid); !os.IsNotExist(err) {
				t.Errorf("pid file left after exit: %v", err)
			}
		})
	}
}

// rawGet fetches path on a new connection and returns the whole response.
func rawGet(t *testing.T, addr, path string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, _, err := conformance.ReadResponse(bufio.NewReader(c))
	if err != nil {
		t.Fatalf("GET %s: %v after %q", path, err, raw)
	}
	return raw
}

// header returns the value of the named field of a raw response.
func header(raw, name string) string {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
