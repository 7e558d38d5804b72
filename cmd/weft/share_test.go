package main

import (
	"bufio"
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	goqr "github.com/piglig/go-qr"
)

// qrCells reads writeQR's text back into modules: light[y][x] for each
// module row y (two to a line of text), quiet zone included.
func qrCells(t *testing.T, text string) [][]bool {
	t.Helper()
	var light [][]bool
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var top, bottom []bool
		for _, r := range line {
			switch r {
			case '█':
				top, bottom = append(top, true), append(bottom, true)
			case '▀':
				top, bottom = append(top, true), append(bottom, false)
			case '▄':
				top, bottom = append(top, false), append(bottom, true)
			case ' ':
				top, bottom = append(top, false), append(bottom, false)
			default:
				t.Fatalf("unexpected %q in the QR code", r)
			}
		}
		light = append(light, top, bottom)
	}
	return light
}

// qrImage draws cells as a dark terminal shows them: light cells white,
// the rest black, with a margin of dark terminal around.
func qrImage(light [][]bool) image.Image {
	const scale, margin = 6, 3
	h, w := len(light), len(light[0])
	img := image.NewGray(image.Rect(0, 0, (w+2*margin)*scale, (h+2*margin)*scale))
	for y, row := range light {
		for x, on := range row {
			if !on {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray((x+margin)*scale+dx, (y+margin)*scale+dy, color.Gray{Y: 255})
				}
			}
		}
	}
	return img
}

// TestQR: the terminal rendering is the library's matrix exactly, in a
// light quiet zone, and a real decoder reads the URL back from it drawn
// as a dark terminal shows it (zbarimg, required when
// WEFT_TEST_REQUIRE_ZBAR=1 as in CI; else the QR library's own decoder).
func TestQR(t *testing.T) {
	for _, url := range []string{"http://192.168.1.20:8080/", "https://[2001:db8:1234:5678:9abc:def0:1234:5678]:8443/"} {
		t.Run(url, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeQR(&b, url); err != nil {
				t.Fatal(err)
			}
			light := qrCells(t, b.String())
			code, err := goqr.EncodeText(url, goqr.Medium)
			if err != nil {
				t.Fatal(err)
			}
			n := code.Size()
			for y := range light {
				if len(light[y]) != n+2*qrQuiet {
					t.Fatalf("row %d: %d modules wide, want %d", y, len(light[y]), n+2*qrQuiet)
				}
			}
			// A code of odd size leaves half a line: the last row of text
			// has only its upper half in the code.
			if want := n + 2*qrQuiet; len(light) != want+want%2 {
				t.Fatalf("%d module rows, want %d", len(light), want+want%2)
			}
			for y := range n + 2*qrQuiet {
				for x := range n + 2*qrQuiet {
					want := !code.Module(x-qrQuiet, y-qrQuiet)
					if light[y][x] != want {
						t.Fatalf("module (%d,%d): light %v, want %v", x-qrQuiet, y-qrQuiet, light[y][x], want)
					}
				}
			}
			if light[len(light)-1][0] && (n+2*qrQuiet)%2 == 1 {
				t.Errorf("the padding half line is drawn light; it should be left to the terminal")
			}
			img := qrImage(light[:n+2*qrQuiet])
			if got := zbarDecode(t, img); got != "" && got != url {
				t.Errorf("zbarimg read %q, want %q", got, url)
			} else if got == "" {
				got, err := goqr.Decode(img)
				if err != nil || got != url {
					t.Errorf("the QR library read %q (%v), want %q", got, err, url)
				}
			}
		})
	}
}

// zbarDecode decodes img with zbarimg, or returns "" when zbarimg is
// missing and not required.
func zbarDecode(t *testing.T, img image.Image) string {
	t.Helper()
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("WEFT_TEST_REQUIRE_ZBAR") == "1" {
			t.Fatal("zbarimg not found (apt-get install zbar-tools); WEFT_TEST_REQUIRE_ZBAR=1 makes its absence a failure")
		}
		t.Log("zbarimg not found (apt-get install zbar-tools): decoding with the QR library instead")
		return ""
	}
	name := filepath.Join(t.TempDir(), "qr.png")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(zbar, "--raw", "-q", name).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v (read nothing from the rendering)", err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

func TestQRWithoutLAN(t *testing.T) {
	var b bytes.Buffer
	printQR(&b, []string{"http://127.0.0.1:8080/"})
	if !strings.Contains(b.String(), "no LAN URL") || !strings.Contains(b.String(), "--addr 0.0.0.0:PORT") {
		t.Errorf("printQR without a LAN URL: %q", b.String())
	}
}

func TestOpener(t *testing.T) {
	for goos, want := range map[string]string{
		"linux":   "xdg-open",
		"freebsd": "xdg-open",
		"darwin":  "open",
		"windows": "rundll32 url.dll,FileProtocolHandler",
	} {
		name, args := opener(goos)
		if got := strings.Join(append([]string{name}, args...), " "); got != want {
			t.Errorf("%s: %q, want %q", goos, got, want)
		}
	}
}

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
	p := &proc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(weftBin(t), args...)
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
	if runtime.GOOS == "windows" {
		t.Skip("process groups")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.Addr().(*net.TCPAddr).Port
	free.Close()
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
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
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
			dl, err := net.Dial("tcp", p.addr(t))
			if err != nil {
				t.Fatal(err)
			}
			defer dl.Close()
			io.WriteString(dl, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
			if _, err := io.ReadFull(dl, make([]byte, 64<<10)); err != nil {
				t.Fatal(err)
			}
			// The download now stalls: the client reads no more.

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
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-p.exited:
			case <-time.After(5 * time.Second):
				t.Fatalf("still running 5s after the second Ctrl-C; stderr %s", p.stderr.String())
			}
			if code := p.cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit status %d after the second Ctrl-C, want 130; stderr %s", code, p.stderr.String())
			}
			t.Logf("exited %v after the second Ctrl-C", time.Since(start).Round(time.Millisecond))
		})
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
