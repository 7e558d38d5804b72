//go:build unix

package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
)

// proc is a weft process started by startWeft.
type proc struct {
	cmd    *exec.Cmd
	banner []string // the banner's lines
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{}
}

// startWeft runs the binary with exactly args (no "serve" added) and env
// added, and waits for the banner: its first line and the "also at"
// lines after it.
func startWeft(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startBin(t, weftBin(t), env, args...)
}

// startBin is startWeft with another executable (a packed one).
func startBin(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, for a Ctrl-C to all of it
	r, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				p.stdout.Write([]byte(l))
				close(lines)
				break
			}
			lines <- l
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	})
	// The banner's lines come at once: the first line, then the others
	// until a pause or a line of something else.
	timeout := time.After(20 * time.Second)
	var idle <-chan time.Time
	for {
		select {
		case l, ok := <-lines:
			switch {
			case !ok:
				if len(p.banner) > 0 {
					return p
				}
				t.Fatalf("weft %q exited before its banner; stderr %s", args, p.stderr.String())
			case len(p.banner) == 0 && strings.HasPrefix(l, "weft: serving "),
				len(p.banner) > 0 && strings.HasPrefix(l, "weft: also at "):
				p.banner = append(p.banner, strings.TrimSuffix(l, "\n"))
				idle = time.After(300 * time.Millisecond)
				continue
			}
			p.stdout.Write([]byte(l))
			if len(p.banner) == 0 {
				continue
			}
		case <-idle:
		case <-timeout:
			t.Fatalf("weft %q: no banner within 20s; stderr %s", args, p.stderr.String())
		}
		go func() {
			for l := range lines {
				p.stdout.Write([]byte(l))
			}
		}()
		return p
	}
}

// addr is the first URL's host:port, to dial.
func (p *proc) addr(t *testing.T) string {
	t.Helper()
	u := urlRe.FindString(p.banner[0])
	if u == "" {
		t.Fatalf("banner %q has no URL", p.banner[0])
	}
	return strings.Replace(strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"), "localhost:", "127.0.0.1:", 1)
}

// TestServeShorthand: `weft DIR` and `weft -p PORT DIR` serve DIR as
// `weft serve` would; a word that is neither a command nor a folder is a
// usage error, and a folder named like a command is reached as ./NAME.
func TestServeShorthand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := conformance.FreePort(t) // not from ":0": another test could take it before weft binds it
	for name, args := range map[string][]string{
		"DIR":         {dir, "--addr", "127.0.0.1:0"},
		"FlagsAndDIR": {"--addr", "127.0.0.1:0", "-p", itoa(port), dir},
	} {
		t.Run(name, func(t *testing.T) {
			p := startWeft(t, nil, args...)
			if !strings.Contains(p.banner[0], "serving "+dir+" at") {
				t.Errorf("banner %q does not name %s", p.banner[0], dir)
			}
			if name == "FlagsAndDIR" && !strings.Contains(p.banner[0], ":"+itoa(port)+"/") {
				t.Errorf("banner %q: not on port %d", p.banner[0], port)
			}
			if got := bodyOf(ask(t, p.addr(t), "GET /hello.txt HTTP/1.1", "Host: t", "Connection: close")); got != "hello\n" {
				t.Errorf("GET /hello.txt: %q", got)
			}
		})
	}
	t.Run("UnknownWord", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"no-such-folder-here"}, &stdout, &stderr); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], `unknown command "no-such-folder-here"`) || !strings.Contains(lines[1], "weft help") {
			t.Errorf("stderr %q: want one line of error and one of hint", stderr.String())
		}
	})
	t.Run("FileIsNoShorthand", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{filepath.Join(dir, "hello.txt")}, &stdout, &stderr); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
		if !strings.Contains(stderr.String(), "hello.txt is a file, not a folder to serve") {
			t.Errorf("stderr %q", stderr.String())
		}
	})
}

// TestBannerWildcard: on 0.0.0.0 the banner lists localhost first, then
// one line per other URL, each on the same port.
func TestBannerWildcard(t *testing.T) {
	p := startWeft(t, nil, "serve", "--addr", "0.0.0.0:0")
	if !strings.Contains(p.banner[0], "at http://localhost:") {
		t.Fatalf("banner %q: want localhost first", p.banner[0])
	}
	port := strings.TrimSuffix(p.addr(t)[strings.LastIndex(p.addr(t), ":"):], "/")
	for _, l := range p.banner[1:] {
		if !strings.HasSuffix(l, port+"/") {
			t.Errorf("%q: not on port %s", l, port)
		}
	}
	t.Logf("banner:\n%s", strings.Join(p.banner, "\n"))
}

// TestOpenFlag: --open runs the opener (WEFT_TEST_OPENER here) with the
// first URL; an opener that fails is a warning and weft serves on.
func TestOpenFlag(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "opened")
	script := filepath.Join(dir, "opener")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s' \"$1\" > \""+got+"\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startWeft(t, []string{envTestOpener + "=" + script}, "serve", "--addr", "127.0.0.1:0", "--open")
	waitFile(t, got, "http://")
	if b, _ := os.ReadFile(got); "weft: serving the built-in sample site at "+string(b)+" " != p.banner[0][:len("weft: serving the built-in sample site at ")+len(b)+1] {
		t.Errorf("opened %q; banner %q", b, p.banner[0])
	}

	for name, opener := range map[string]string{"Missing": filepath.Join(dir, "no-such-opener"), "Failing": "/bin/false"} {
		t.Run(name, func(t *testing.T) {
			p := startWeft(t, []string{envTestOpener + "=" + opener}, "serve", "--addr", "127.0.0.1:0", "--open")
			waitLog(t, p.stderr, "weft: --open: ", 1)
			if status := statusOf(ask(t, p.addr(t), "GET / HTTP/1.1", "Host: t", "Connection: close")); status != "200" {
				t.Errorf("after a failed --open: %q", status)
			}
		})
	}
}

// TestQRFlag: --qr on a wildcard bind prints a code of the first LAN URL
// after the banner; on loopback it says there is none.
func TestQRFlag(t *testing.T) {
	p := startWeft(t, nil, "serve", "--addr", "127.0.0.1:0", "--qr")
	waitLog(t, p.stdout, "weft: --qr: no LAN URL", 1)

	p = startWeft(t, nil, "serve", "--addr", "0.0.0.0:0", "--qr")
	if len(p.banner) < 2 {
		t.Skip("no network interface here besides loopback")
	}
	lan := strings.TrimPrefix(p.banner[1], "weft: also at ")
	waitLog(t, p.stdout, "weft: scan to open "+lan, 1)
	out := p.stdout.String()
	code := out[:strings.Index(out, "weft: scan to open")]
	var want bytes.Buffer
	writeQR(&want, lan)
	if code != want.String() {
		t.Errorf("printed\n%s\nwant the code of %s\n%s", code, lan, want.String())
	}
}

// TestCtrlC: with a download in flight and an idle kept-alive connection,
// a first Ctrl-C (SIGINT to weft's process group, as a terminal sends it)
// starts the graceful shutdown and says what it waits for, the download
// alone, once; weft keeps waiting; a second Ctrl-C exits at once with 130.
// The prefork supervisor cannot count its workers' connections and says
// so generally.
func TestCtrlC(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct{ engine, want string }{
		{"epoll", "weft: stopping: finishing 1 connection (up to 1m0s); Ctrl-C again to stop now\n"},
		{"goroutine", "weft: stopping: finishing 1 connection (up to 1m0s); Ctrl-C again to stop now\n"},
		{"process", "weft: stopping: finishing open connections (up to 1m0s); Ctrl-C again to stop now\n"},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			p := startWeft(t, nil, "serve", dir, "--addr", "127.0.0.1:0", "--engine", tc.engine, "--workers", "2", "--shutdown-timeout", "60s")
			idle, err := net.Dial("tcp", p.addr(t))
			if err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			io.WriteString(idle, "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n")
			if _, err := bufio.NewReader(idle).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			// Idle long enough for the shutdown to close it at once (see
			// h1conn.DrainQuiet): it is not what the shutdown waits for.
			time.Sleep(1200 * time.Millisecond)
			defer stalledDownload(t, p.addr(t)).Close()

			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
			waitLog(t, p.stderr, "weft: stopping:", 1)
			time.Sleep(500 * time.Millisecond)
			if got := p.stderr.String(); strings.Count(got, "weft: stopping:") != 1 || !strings.Contains(got, tc.want) {
				t.Errorf("stderr %q; want once %q", got, tc.want)
			}
			select {
			case <-p.exited:
				t.Fatalf("exited while the download was in flight; stderr %s", p.stderr.String())
			default:
			}

			start := time.Now()
			secondCtrlC(t, p)
			t.Logf("exited %v after the second Ctrl-C", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestCtrlCRemovesExtractedSite: a second Ctrl-C, which exits at once,
// still removes the folder the packed site was extracted to (and the
// process engine's private folders): os.Exit skipped the deferred
// removal, leaving a copy of the site in the temporary folder at every
// such exit.
func TestCtrlCRemovesExtractedSite(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil { // zeros: packed small, extracted whole
		t.Fatal(err)
	}
	f.Close()
	exe := filepath.Join(t.TempDir(), "site")
	if out, err := exec.Command(weftBin(t), "pack", dir, "-o", exe).CombinedOutput(); err != nil {
		t.Fatalf("weft pack: %v: %s", err, out)
	}
	for _, eng := range []string{"goroutine", "process"} {
		t.Run(eng, func(t *testing.T) {
			tmp := t.TempDir()
			p := startBin(t, exe, []string{"TMPDIR=" + tmp}, "--addr", "127.0.0.1:0", "--engine", eng, "--workers", "1", "--shutdown-timeout", "60s")
			if made, _ := filepath.Glob(filepath.Join(tmp, "weft-site-*")); len(made) != 1 {
				t.Fatalf("extracted to %q; want one weft-site-* folder in TMPDIR", made)
			}
			defer stalledDownload(t, p.addr(t)).Close() // the graceful stop waits for it
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
			waitLog(t, p.stderr, "weft: stopping:", 1)
			secondCtrlC(t, p)
			if left, _ := filepath.Glob(filepath.Join(tmp, "weft-*")); len(left) != 0 {
				t.Errorf("left in TMPDIR after the exit: %q", left)
			}
		})
	}
}

// stalledDownload starts a download of /big.bin from addr and stops
// reading after its first 64 KiB.
func stalledDownload(t *testing.T, addr string) net.Conn {
	t.Helper()
	dl, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(dl, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
	if _, err := io.ReadFull(dl, make([]byte, 64<<10)); err != nil {
		dl.Close()
		t.Fatal(err)
	}
	return dl
}

// secondCtrlC sends p's group a SIGINT during its graceful stop and
// checks that it exits at once, with status 130.
func secondCtrlC(t *testing.T, p *proc) {
	t.Helper()
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after the second Ctrl-C; stderr %s", p.stderr.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit status %d after the second Ctrl-C, want 130; stderr %s", code, p.stderr.String())
	}
}

// TestSampleValidatorsSurviveRestarts: the built-in sample site's
// Last-Modified and ETag are the build's, the same at two starts a second
// apart, so browsers keep their cached copies across restarts.
func TestSampleValidatorsSurviveRestarts(t *testing.T) {
	validators := func() (etag, lastMod string) {
		p := startWeft(t, nil, "serve", "--addr", "127.0.0.1:0")
		raw := ask(t, p.addr(t), "GET / HTTP/1.1", "Host: t", "Connection: close")
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		<-p.exited
		if statusOf(raw) != "200" {
			t.Fatalf("GET /: %.100q", raw)
		}
		return header(raw, "ETag"), header(raw, "Last-Modified")
	}
	started := time.Now()
	etag1, mod1 := validators()
	time.Sleep(1100 * time.Millisecond) // Last-Modified has seconds
	etag2, mod2 := validators()
	if etag1 == "" || mod1 == "" || etag1 != etag2 || mod1 != mod2 {
		t.Errorf("first start: ETag %s, Last-Modified %s; second: %s, %s", etag1, mod1, etag2, mod2)
	}
	// The build's time (a commit's, or a release date) came before the
	// start's second, which extracting the files would have given them.
	if m, err := http.ParseTime(mod1); err != nil || !m.Before(started.Truncate(time.Second)) {
		t.Errorf("Last-Modified %q is not before the start (%v)", mod1, err)
	}
}
