package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/loadgen"
	"github.com/weft-server/weft/internal/site"
)

// weftBin builds the command once per test binary.
func weftBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "weft-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "weft")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

func TestUsageErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"UnknownFlag", []string{"serve", "--bogus"}, 2, "unknown flag: --bogus"},
		{"UnknownCommand", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"MissingDir", []string{"serve", "/definitely/not/here"}, 1, "weft: cannot serve /definitely/not/here: no such file or directory"},
		{"NotADir", []string{"serve", "main.go", "-p", "0"}, 1, "not a directory"},
		{"BusyPort", []string{"serve", "--addr", busy.Addr().String()}, 1, "address already in use"},
		{"BadPort", []string{"serve", "-p", "70000"}, 2, "out of range"},
		{"BadAddr", []string{"serve", "--addr", "nocolon"}, 2, "want HOST:PORT"},
		{"BadEngine", []string{"serve", "--engine", "fibers", "-p", "0"}, 1, `unknown engine "fibers"`},
		{"BadLogFormat", []string{"serve", "--log-format", "xml"}, 2, "unknown log format"},
		{"BadLogTemplate", []string{"serve", "--log-format", `$remote_addr "$request" $nope`}, 2, "weft: flag --log-format: unknown variable $nope\n"},
		{"BadLogTime", []string{"serve", "--log-time", "gmt"}, 2, `unknown log time "gmt" (want local or utc)`},
		{"BadTimeout", []string{"serve", "--idle-timeout", "-1s"}, 2, "must be positive"},
		{"TwoDirs", []string{"serve", ".", "."}, 2, "one DIR at most"},
		{"MIMEWithoutType", []string{"serve", "--mime", "md"}, 2, `invalid value "md" for flag --mime: want EXT=TYPE`},
		{"MIMEBadType", []string{"serve", "--mime", ".md=markdown"}, 2, `MIME type "markdown" for .md: want type/subtype`},
		{"MIMEBadExt", []string{"serve", "--mime", "tar.gz=application/gzip"}, 2, `MIME extension "tar.gz"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.msg)
			}
			if strings.Contains(stderr.String(), "goroutine 1 [") || strings.Contains(stderr.String(), "panic:") {
				t.Errorf("stack trace on stderr: %s", stderr.String())
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "weft ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "weft serve") {
		t.Errorf("help: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"serve", "--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "--read-header-timeout") {
		t.Errorf("serve --help: %d %q", code, out.String())
	}
}

// TestMIMEFlag: repeated --mime flags reach the served Content-Type, the
// last one for an extension winning, and the rest of the table stays.
func TestMIMEFlag(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"README.md", "scene.glb2", "tool.py"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := conformance.StartBinary(weftBin(t), "--mime", "MD=text/x-first", "--mime", ".md=text/markdown")
	srv := start(t, conformance.Options{Site: site.Config{Root: root, MIME: map[string]string{"glb2": "model/x-test"}}}) // one more --mime

	for path, want := range map[string]string{
		"/README.md":  "text/markdown; charset=utf-8",
		"/scene.glb2": "model/x-test",
		"/tool.py":    "text/plain; charset=utf-8",
	} {
		resp, err := http.Get("http://" + srv.Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || got != want {
			t.Errorf("GET %s: %d, Content-Type %q, want 200, %q", path, resp.StatusCode, got, want)
		}
	}
}

var urlRe = regexp.MustCompile(`http://[^ ]+/`)

// TestServeSampleAndSignal runs the real binary on its embedded site,
// fetches the page it announces, then stops it with SIGTERM.
func TestServeSampleAndSignal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	bin := weftBin(t)
	cmd := exec.Command(bin, "serve", "-p", "0", "--log-format", "json")
	stdout, _ := cmd.StdoutPipe()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no banner: %v; stderr %s", err, stderr.String())
	}
	url := urlRe.FindString(line)
	if url == "" {
		t.Fatalf("banner %q has no URL", line)
	}
	if strings.HasSuffix(url, ":8080/") {
		t.Errorf("-p 0 listened on the default port instead of a free one: %s", url)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>weft") {
		t.Fatalf("sample page: %d %q", resp.StatusCode, body[:min(len(body), 200)])
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	rest, _ := io.ReadAll(br)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("weft did not exit within 15s of SIGTERM")
	}
	// The access log was flushed on the way out, and its size field is the
	// body's, as in CLF (%b) and nginx's $body_bytes_sent.
	if !strings.Contains(string(rest), `"method":"GET","target":"/"`) {
		t.Errorf("access log lacks the request: %q", rest)
	}
	if want := fmt.Sprintf(`"status":200,"bytes":%d,`, len(body)); !strings.Contains(string(rest), want) {
		t.Errorf("access log line %q lacks %s (the body's size)", rest, want)
	}
}

// TestOutOfDescriptors: when accept(2) fails for want of descriptors,
// weft says so, does not spin on the still-ready listener, keeps serving
// the connections it has, and accepts again once descriptors free up.
func TestOutOfDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ulimit and /proc")
	}
	bin := weftBin(t)
	root := t.TempDir()
	for _, name := range []string{"index.html", "other.html"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, eng := range []string{"epoll", "uring", "poll", "goroutine", "thread", "process"} {
		t.Run(eng, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", `ulimit -n 48 && exec "$0" "$@"`, bin, "serve", root,
				"--addr", "127.0.0.1:0", "--engine", eng, "--no-access-log")
			stdout, _ := cmd.StdoutPipe()
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatalf("no banner: %v; stderr %s", err, stderr.String())
			}
			addr := strings.TrimSuffix(strings.TrimPrefix(urlRe.FindString(line), "http://"), "/")
			// A kept-alive client, answered before the flood.
			first, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			br := bufio.NewReader(first)
			ask := func(path string) *http.Response {
				t.Helper()
				io.WriteString(first, "GET "+path+" HTTP/1.1\r\nHost: t\r\n\r\n")
				first.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp
			}
			if r := ask("/"); r.StatusCode != 200 {
				t.Fatalf("before the flood: %d", r.StatusCode)
			}
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for i := 0; i < 80; i++ { // more than the descriptors left
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
				conns = append(conns, c)
			}
			time.Sleep(300 * time.Millisecond)
			// A file that is not cached cannot be opened now: that is
			// the server's trouble, not a missing file.
			if r := ask("/other.html"); r.StatusCode != 503 {
				t.Errorf("uncached file with no descriptor left: %d, want 503", r.StatusCode)
			}
			cpu0, ok0 := loadgen.TreeCPU(cmd.Process.Pid)
			time.Sleep(time.Second)
			cpu1, ok1 := loadgen.TreeCPU(cmd.Process.Pid)
			if ok0 && ok1 && cpu1-cpu0 > 0.5 {
				t.Errorf("%.2f CPU seconds in one second with accept failing: spinning on the listener", cpu1-cpu0)
			}
			if !strings.Contains(stderr.String(), "too many open files") {
				t.Errorf("no warning about the descriptors on stderr: %q", stderr.String())
			}
			for _, c := range conns {
				c.Close()
			}
			conns = nil
			// Descriptors free up: a newcomer is served.
			deadline := time.Now().Add(10 * time.Second)
			for {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err == nil {
					io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					l, rerr := bufio.NewReader(c).ReadString('\n')
					c.Close()
					if rerr == nil && l == "HTTP/1.1 200 OK\r\n" {
						return
					}
					err = rerr
				}
				if time.Now().After(deadline) {
					t.Fatalf("no answer after descriptors freed up: %v; stderr %s", err, stderr.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// TestServeS3 serves an s3:// root from the command line (flags, and the
// credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) through
// the origin cases, against a real S3-compatible server.
func TestServeS3(t *testing.T) {
	conformance.RunOriginCases(t, conformance.StartBinary(weftBin(t), "--engine", "epoll"))
}
