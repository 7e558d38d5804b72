//go:build linux

package main

import (
	"bufio"
	"fmt"
	"github.com/weft-server/weft/internal/conformance"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The operations tests: systemd socket activation and readiness, unix
// sockets, switching users. They run the binary on every engine.

var allEngines = []string{"serial", "process", "thread", "goroutine", "poll", "epoll", "uring"}

// opsRoot is a site folder every user can read (a user weft switches to
// among them): its parent and itself are 0755.
func opsRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "weft-ops-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from weft\n"), 0o644))
	return dir
}

// child is a weft started by these tests, with its standard output read
// line by line and its standard error kept.
type child struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *syncBuffer
	exited chan struct{}
	err    error // after exited
}

// startChild starts cmd (a weft serve) and stops it with SIGTERM at the
// end of the test.
func startChild(t *testing.T, cmd *exec.Cmd) *child {
	t.Helper()
	c := &child{cmd: cmd, lines: make(chan string, 100), stderr: &syncBuffer{}, exited: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = c.stderr
	must(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default: // an access log nobody reads
			}
		}
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-c.exited
		}
	})
	return c
}

// line waits for a line of standard output that contains want.
func (c *child) line(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-c.lines:
			if strings.Contains(l, want) {
				return l
			}
		case <-c.exited:
			t.Fatalf("weft exited (%v) before printing %q; stderr:\n%s", c.err, want, c.stderr.String())
		case <-timeout:
			t.Fatalf("weft did not print %q; stderr:\n%s", want, c.stderr.String())
		}
	}
}

// stop sends SIGTERM and waits for the exit.
func (c *child) stop(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("weft did not stop on SIGTERM")
	}
}

// waitStderr waits for want on standard error, which os/exec copies on
// a goroutine of its own: it may come after lines of standard output
// that weft wrote later.
func (c *child) waitStderr(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(c.stderr.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("standard error never said %q: %q", want, c.stderr.String())
			return
		}
	}
}

// stopOK stops weft and checks that it exited with status 0.
func (c *child) stopOK(t *testing.T) {
	t.Helper()
	c.stop(t)
	if c.err != nil {
		t.Errorf("exit: %v; stderr:\n%s", c.err, c.stderr.String())
	}
}

// fetchRaw sends one request over a fresh connection (no retry) and returns
// the whole response.
func fetchRaw(t *testing.T, network, addr, path string) string {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("GET %s: %v after %q", path, err, b)
	}
	return string(b)
}

func wantHello(t *testing.T, resp string) {
	t.Helper()
	if !strings.HasPrefix(resp, "HTTP/1.1 200 ") || !strings.HasSuffix(resp, "\r\n\r\nhello from weft\n") {
		t.Fatalf("GET /hello.txt: %q", resp)
	}
}

// activated is the command that starts weft as systemd does: the
// listeners as descriptors 3, 4, …, LISTEN_FDS their count,
// LISTEN_FDNAMES their names, and LISTEN_PID weft's own pid, which only
// the process itself knows: sh sets it to its own pid, then becomes weft
// (exec keeps the pid).
func activated(t *testing.T, names []string, lns []net.Listener, args ...string) *exec.Cmd {
	t.Helper()
	var files []*os.File
	for _, ln := range lns {
		f, err := ln.(interface{ File() (*os.File, error) }).File()
		must(t, err)
		files = append(files, f)
		t.Cleanup(func() { f.Close() })
	}
	cmd := exec.Command("sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, weftBin(t), "serve"}, args...)...)
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), "LISTEN_FDS="+strconv.Itoa(len(files)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	return cmd
}

// TestSocketActivationEveryEngine: weft serves the socket systemd passes
// (descriptor 3) instead of binding --addr (which another listener holds
// here, so that binding it would fail), on every engine, and the
// process engine's workers serve it too but do not see LISTEN_* (weft
// unsets them). A second socket named "admin" serves the admin endpoints.
// The pid file works with it.
func TestSocketActivationEveryEngine(t *testing.T) {
	root := opsRoot(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer busy.Close()
	for _, eng := range allEngines {
		t.Run(eng, func(t *testing.T) {
			site, err := net.Listen("tcp", "127.0.0.1:0")
			must(t, err)
			admin, err := net.Listen("tcp", "127.0.0.1:0")
			must(t, err)
			pidFile := filepath.Join(t.TempDir(), "weft.pid")
			cmd := activated(t, []string{"web", "admin"}, []net.Listener{site, admin},
				root, "--engine", eng, "--workers", "2", "--addr", busy.Addr().String(), "--pid-file", pidFile, "--no-access-log")
			c := startChild(t, cmd)
			// weft holds the sockets now; the test's copies go.
			site.Close()
			admin.Close()
			banner := c.line(t, "weft: serving")
			if !strings.Contains(banner, "http://"+site.Addr().String()+"/") {
				t.Errorf("the banner does not show the passed socket %s: %q", site.Addr(), banner)
			}
			for i := 0; i < 4; i++ {
				wantHello(t, fetchRaw(t, "tcp", site.Addr().String(), "/hello.txt"))
			}
			if resp := fetchRaw(t, "tcp", admin.Addr().String(), "/healthz"); !strings.HasPrefix(resp, "HTTP/1.1 200 ") || !strings.HasSuffix(resp, "ok\n") {
				t.Errorf("admin /healthz on the socket named admin: %q", resp)
			}
			pid := c.cmd.Process.Pid
			if b, err := os.ReadFile(pidFile); err != nil || string(b) != fmt.Sprintf("%d\n", pid) {
				t.Errorf("pid file: %q, %v; want %d", b, err, pid)
			}
			if eng == "process" {
				kids := workerPids(t, pid, 2)
				for _, k := range kids {
					env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", k))
					must(t, err)
					if strings.Contains(string(env), "LISTEN_") {
						t.Errorf("worker %d was given LISTEN_* in its environment", k)
					}
				}
			}
			c.stopOK(t)
			if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
				t.Errorf("the pid file is left after the exit: %v", err)
			}
		})
	}
}

// TestSocketActivationUnix: a unix socket passed by systemd is served
// (over curl --unix-socket), and left in place at exit: it is systemd's.
func TestSocketActivationUnix(t *testing.T) {
	curl := needCurl(t)
	root := opsRoot(t)
	sock := filepath.Join(t.TempDir(), "web.sock")
	ln, err := net.Listen("unix", sock)
	must(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	c := startChild(t, activated(t, nil, []net.Listener{ln}, root, "--engine", "epoll"))
	ln.Close()
	c.line(t, "weft: serving")
	out, err := exec.Command(curl, "-sS", "--fail", "--unix-socket", sock, "http://localhost/hello.txt").CombinedOutput()
	if err != nil || string(out) != "hello from weft\n" {
		t.Fatalf("curl --unix-socket: %v, %q", err, out)
	}
	c.stop(t)
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("weft removed the socket file systemd made: %v", err)
	}
}

// childPids lists the children of pid (each thread's children file lists
// those it started).
func childPids(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	must(t, err)
	var out []int
	seen := map[int]bool{}
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// workerPids waits until pid has n children (a process engine's first
// worker may answer before the others have started) and returns them.
func workerPids(t *testing.T, pid, n int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		kids := childPids(t, pid)
		if len(kids) == n {
			return kids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers after 10s, want %d", len(kids), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// notifySocket is a NOTIFY_SOCKET a test reads, as systemd does.
type notifySocket struct {
	path string
	conn *net.UnixConn
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	return &notifySocket{path: path, conn: conn}
}

// next waits for the next message.
func (n *notifySocket) next(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 4096)
	n.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	k, err := n.conn.Read(buf)
	if err != nil {
		t.Fatalf("no message on NOTIFY_SOCKET: %v", err)
	}
	return string(buf[:k])
}

// TestNotify: with NOTIFY_SOCKET, weft says READY=1 (with a STATUS=) once
// it answers requests, RELOADING=1 with MONOTONIC_USEC= then READY=1
// around a SIGHUP reload, and STOPPING=1 at SIGTERM; the process engine
// says READY=1 once, for its supervisor, when its workers serve.
func TestNotify(t *testing.T) {
	root := opsRoot(t)
	for _, eng := range allEngines {
		t.Run(eng, func(t *testing.T) {
			ns := newNotifySocket(t)
			cmd := exec.Command(weftBin(t), "serve", root, "--engine", eng, "--workers", "2", "--addr", "127.0.0.1:0", "--no-access-log")
			cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns.path)
			c := startChild(t, cmd)
			m := urlRe.FindString(c.line(t, "weft: serving"))
			addr := strings.TrimSuffix(strings.TrimPrefix(m, "http://"), "/")
			msg := ns.next(t)
			if !strings.Contains(msg, "READY=1") || !strings.Contains(msg, "STATUS=serving ") || !strings.Contains(msg, "engine "+eng) {
				t.Fatalf("first message %q, want READY=1 and a STATUS", msg)
			}
			// Ready means serving: a request now is answered.
			wantHello(t, fetchRaw(t, "tcp", addr, "/hello.txt"))
			c.cmd.Process.Signal(syscall.SIGHUP)
			msg = ns.next(t)
			if !strings.Contains(msg, "RELOADING=1") || !strings.Contains(msg, "MONOTONIC_USEC=") {
				t.Fatalf("on SIGHUP: %q, want RELOADING=1 and MONOTONIC_USEC", msg)
			}
			usec, _ := strconv.ParseInt(strings.SplitN(strings.SplitN(msg, "MONOTONIC_USEC=", 2)[1], "\n", 2)[0], 10, 64)
			var ts unix.Timespec
			must(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
			if now := ts.Nano() / 1000; usec <= 0 || usec > now {
				t.Errorf("MONOTONIC_USEC=%d, not a time of CLOCK_MONOTONIC before now (%d)", usec, now)
			}
			if msg = ns.next(t); !strings.Contains(msg, "READY=1") {
				t.Fatalf("after the reload: %q, want READY=1", msg)
			}
			wantHello(t, fetchRaw(t, "tcp", addr, "/hello.txt"))
			c.cmd.Process.Signal(syscall.SIGTERM)
			if msg = ns.next(t); !strings.Contains(msg, "STOPPING=1") {
				t.Fatalf("on SIGTERM: %q, want STOPPING=1", msg)
			}
			<-c.exited
			// Nothing more: in particular no worker of the process engine spoke.
			ns.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if k, err := ns.conn.Read(make([]byte, 512)); err == nil {
				t.Errorf("a message after the exit: %d bytes", k)
			}
		})
	}
}

// needCurl finds curl, or skips (fails with WEFT_TEST_REQUIRE_CURL set).
func needCurl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("WEFT_TEST_REQUIRE_CURL") != "" {
			t.Fatal("curl not installed and WEFT_TEST_REQUIRE_CURL is set")
		}
		t.Skip("curl not installed")
	}
	return path
}

// TestUnixSocketEveryEngine: --addr unix:/PATH answers curl --unix-socket
// on every engine (a file through sendfile or the cache, twice on one
// connection), with the socket file's mode and (as root) owner as set; the
// access log names the client "unix:"; the file goes at exit.
func TestUnixSocketEveryEngine(t *testing.T) {
	curl := needCurl(t)
	root := opsRoot(t)
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB: past the cache, sent from the file
	must(t, os.WriteFile(filepath.Join(root, "big.bin"), []byte(big), 0o644))
	for _, eng := range allEngines {
		t.Run(eng, func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "weft.sock")
			args := []string{"serve", root, "--engine", eng, "--workers", "2", "--addr", "unix:" + sock, "--unix-mode", "0660", "--log-format", "common"}
			root := os.Geteuid() == 0
			if root {
				args = append(args, "--unix-owner", "nobody:nogroup")
			}
			c := startChild(t, exec.Command(weftBin(t), args...))
			if banner := c.line(t, "weft: serving"); !strings.Contains(banner, "unix:"+sock) {
				t.Errorf("banner: %q, want unix:%s", banner, sock)
			}
			fi, err := os.Lstat(sock)
			must(t, err)
			if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
				t.Errorf("socket file %v, want a socket with mode 0660", fi.Mode())
			}
			if root {
				st := fi.Sys().(*syscall.Stat_t)
				if st.Uid != 65534 || st.Gid != 65534 {
					t.Errorf("socket owned by %d:%d, want nobody:nogroup (65534:65534)", st.Uid, st.Gid)
				}
			}
			out, err := exec.Command(curl, "-sS", "--fail", "--unix-socket", sock, "http://localhost/hello.txt", "http://localhost/big.bin").CombinedOutput()
			if err != nil || string(out) != "hello from weft\n"+big {
				t.Fatalf("curl --unix-socket: %v, %d bytes: %.100q", err, len(out), out)
			}
			if l := c.line(t, "GET /big.bin"); !strings.HasPrefix(l, "unix: - - [") || !strings.Contains(l, "\" 200 1048576") {
				t.Errorf("access log line %q, want the client as unix: and the full size", l)
			}
			c.stopOK(t)
			if _, err := os.Lstat(sock); !os.IsNotExist(err) {
				t.Errorf("the socket file is left after the exit: %v", err)
			}
		})
	}
}

// TestUnixSocketStale: a socket file that nobody listens on any more (a
// weft killed with SIGKILL leaves one) is replaced; a live one (another
// server listens) and a file that is not a socket are refused with a
// one-line error, and left as they are.
func TestUnixSocketStale(t *testing.T) {
	root := opsRoot(t)
	dir := t.TempDir()
	start := func(sock string) *exec.Cmd {
		return exec.Command(weftBin(t), "serve", root, "--addr", "unix:"+sock, "--no-access-log")
	}

	t.Run("stale", func(t *testing.T) {
		sock := filepath.Join(dir, "stale.sock")
		ln, err := net.Listen("unix", sock)
		must(t, err)
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		if _, err := os.Lstat(sock); err != nil {
			t.Fatal("no stale socket to test with:", err)
		}
		c := startChild(t, start(sock))
		c.line(t, "weft: serving")
		wantHello(t, fetchRaw(t, "unix", sock, "/hello.txt"))
	})
	t.Run("live", func(t *testing.T) {
		sock := filepath.Join(dir, "live.sock")
		ln, err := net.Listen("unix", sock)
		must(t, err)
		defer ln.Close()
		go func() { // the other server: it answers a connection and closes it
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		out, err := start(sock).CombinedOutput()
		msg := strings.TrimSpace(string(out))
		if code := exitStatus(err); code != 1 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "another server is accepting connections") {
			t.Errorf("exit %d, output %q: want 1 and one line saying another server listens", code, msg)
		}
		if c, err := net.Dial("unix", sock); err != nil {
			t.Errorf("the live socket was disturbed: %v", err)
		} else {
			c.Close()
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		file := filepath.Join(dir, "notes.txt")
		must(t, os.WriteFile(file, []byte("keep me"), 0o644))
		out, err := start(file).CombinedOutput()
		msg := strings.TrimSpace(string(out))
		if code := exitStatus(err); code != 1 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "is a regular file, not a socket") {
			t.Errorf("exit %d, output %q: want 1 and one line saying it is not a socket", code, msg)
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != "keep me" {
			t.Errorf("the file was touched: %q, %v", b, err)
		}
	})
}

// runToExit runs cmd, a weft expected to refuse to start, and returns its
// output; the test fails if it is still running after 30 s.
func runToExit(t *testing.T, cmd *exec.Cmd) ([]byte, error) {
	t.Helper()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("weft kept running: %s", out)
	}
	return out, err
}

func exitStatus(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// needRoot skips a test of switching users when not run as root (CI runs
// as root, so it runs there).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root; this test runs as uid", os.Geteuid())
	}
}

// sharedBin is the weft binary in a folder every user may enter, for the
// process engine's supervisor to start its workers from after switching.
func sharedBin(t *testing.T) string {
	t.Helper()
	bin := weftBin(t)
	must(t, os.Chmod(filepath.Dir(bin), 0o755))
	return bin
}

// ids returns the real, effective, saved and filesystem user and group
// ids of every thread of pid, one "uids/gids" string per thread.
func ids(t *testing.T, pid int) []string {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	must(t, err)
	var out []string
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		var uid, gid, groups string
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch k {
			case "Uid":
				uid = strings.Join(strings.Fields(v), ",")
			case "Gid":
				gid = strings.Join(strings.Fields(v), ",")
			case "Groups":
				groups = strings.Join(strings.Fields(v), ",")
			}
		}
		out = append(out, uid+"/"+gid+"/"+groups)
	}
	return out
}

// wantIDs checks that every thread of pid (and of its children: the
// process engine's workers) runs with the ids want ("uid/gid/groups").
func wantIDs(t *testing.T, pid int, want string) {
	t.Helper()
	for _, p := range append([]int{pid}, childPids(t, pid)...) {
		for _, got := range ids(t, p) {
			if got != want {
				t.Errorf("pid %d (weft %d or a worker) has a thread with uid,…/gid,…/groups %s; want %s", p, pid, got, want)
			}
		}
	}
}

const nobodyIDs = "65534,65534,65534,65534/65534,65534,65534,65534/65534"

// TestUserSwitch: --user nobody on every engine opens the listening
// socket as root, then runs as nobody (every thread, every id; the
// process engine's workers too) and serves; the pid file it wrote as root
// is left at exit when nobody may not remove it from its folder.
func TestUserSwitch(t *testing.T) {
	needRoot(t)
	bin := sharedBin(t)
	root := opsRoot(t)
	for _, eng := range allEngines {
		t.Run(eng, func(t *testing.T) {
			pidDir := opsRoot(t) // root's, 0755: nobody may not create or remove files in it
			pidFile := filepath.Join(pidDir, "weft.pid")
			c := startChild(t, exec.Command(bin, "serve", root, "--engine", eng, "--workers", "2", "--addr", "127.0.0.1:0",
				"--user", "nobody", "--pid-file", pidFile, "--no-access-log"))
			m := urlRe.FindString(c.line(t, "weft: serving"))
			addr := strings.TrimSuffix(strings.TrimPrefix(m, "http://"), "/")
			wantHello(t, fetchRaw(t, "tcp", addr, "/hello.txt"))
			c.waitStderr(t, "now running as user nobody")
			if eng == "process" {
				workerPids(t, c.cmd.Process.Pid, 2)
			}
			wantIDs(t, c.cmd.Process.Pid, nobodyIDs)
			if b, err := os.ReadFile(pidFile); err != nil || string(b) != fmt.Sprintf("%d\n", c.cmd.Process.Pid) {
				t.Errorf("pid file while serving: %q, %v", b, err)
			}
			c.stopOK(t)
			// nobody may not remove it from root's folder, nor write it.
			if b, err := os.ReadFile(pidFile); err != nil || string(b) != fmt.Sprintf("%d\n", c.cmd.Process.Pid) {
				t.Errorf("the pid file after the exit: %q, %v; want it left as it was", b, err)
			}
		})
	}
}

// TestUserAuto: started as root without --user or --allow-root, weft
// switches to nobody by itself after listening, says so on standard
// error, and serves the built-in sample site (extracted to a folder handed
// to nobody); with --allow-root it stays root.
func TestUserAuto(t *testing.T) {
	needRoot(t)
	bin := sharedBin(t)
	for _, eng := range []string{"epoll", "process"} {
		t.Run(eng, func(t *testing.T) {
			cmd := exec.Command(bin, "serve", "--engine", eng, "--workers", "2", "--addr", "127.0.0.1:0", "--no-access-log")
			cmd.Env = withoutAllowRoot()
			c := startChild(t, cmd)
			m := urlRe.FindString(c.line(t, "weft: serving the built-in sample site"))
			addr := strings.TrimSuffix(strings.TrimPrefix(m, "http://"), "/")
			if resp := fetchRaw(t, "tcp", addr, "/"); !strings.HasPrefix(resp, "HTTP/1.1 200 ") {
				t.Errorf("GET / of the sample site: %.200q", resp)
			}
			wantIDs(t, c.cmd.Process.Pid, nobodyIDs)
			c.waitStderr(t, "started as root: now running as user nobody; choose the user with --user NAME, or stay root with --allow-root")
		})
	}
	t.Run("allow-root", func(t *testing.T) {
		cmd := exec.Command(bin, "serve", opsRoot(t), "--addr", "127.0.0.1:0", "--no-access-log", "--allow-root")
		cmd.Env = withoutAllowRoot()
		c := startChild(t, cmd)
		c.line(t, "weft: serving")
		wantIDs(t, c.cmd.Process.Pid, ids(t, os.Getpid())[0]) // the test's own: root's
	})
}

// TestUserRefusals: what the user switched to cannot do fails at start
// with one line saying what to do, exit status 1. (An ACME storage folder
// the user cannot write would fail every certificate, obtained after the
// switch, while weft served on without one.)
func TestUserRefusals(t *testing.T) {
	needRoot(t)
	bin := sharedBin(t)
	private := t.TempDir() // 0700, root's: nobody cannot read it
	must(t, os.WriteFile(filepath.Join(private, "index.html"), []byte("secret"), 0o644))
	hidden := filepath.Join(t.TempDir(), "weft") // the binary where nobody may not run it
	b, err := os.ReadFile(bin)
	must(t, err)
	must(t, os.WriteFile(hidden, b, 0o755))
	uploadRoot := opsRoot(t) // readable by all, writable by root only
	acmeData := t.TempDir()  // XDG_DATA_HOME: root's, 0700
	for _, tc := range []struct {
		name string
		bin  string
		args []string
		want string
	}{
		{"unreadable root", bin, []string{private}, "running as nobody, cannot read the root " + private + ": permission denied; make it readable by nobody, or choose a user that can with --user NAME"},
		{"unreadable root, --user", bin, []string{private, "--user", "nobody"}, "cannot read the root " + private + ": permission denied; give user nobody access, or choose another --user"},
		{"upload folder", bin, []string{uploadRoot, "--upload", "--upload-allow-anonymous"}, "running as nobody, cannot write the upload folder " + uploadRoot + ": permission denied"},
		{"unknown user", bin, []string{opsRoot(t), "--user", "no-such-user-here"}, "weft: --user no-such-user-here: no user no-such-user-here on this system"},
		{"unknown group", bin, []string{opsRoot(t), "--user", "nobody:no-such-group-here"}, "no group no-such-group-here"},
		{"ACME storage", bin, []string{opsRoot(t), "--acme-domain", "example.test", "--acme-ca", "https://127.0.0.1:1/dir"}, "running as nobody, cannot write the ACME storage folder " + filepath.Join(acmeData, "weft", "acme") + ": permission denied"},
		{"workers' executable", hidden, []string{opsRoot(t), "--engine", "process", "--user", "nobody"}, "cannot start the process engine's workers from " + hidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(tc.bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--no-access-log"}, tc.args...)...)
			cmd.Env = append(withoutAllowRoot(), "XDG_DATA_HOME="+acmeData)
			out, err := runToExit(t, cmd)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			last := lines[len(lines)-1]
			if code := exitStatus(err); code != 1 || !strings.HasPrefix(last, "weft: ") || !strings.Contains(last, tc.want) {
				t.Errorf("exit %d, last line %q; want 1 and %q", code, last, tc.want)
			}
			if strings.Contains(string(out), "weft: serving") {
				t.Errorf("it announced serving: %s", out)
			}
		})
	}
}

// TestSocketActivationRefusesNonListening: a passed descriptor that is a
// stream socket but not listening (bound only, or a connected one) is
// refused at start with one line, exit status 1, on every engine, rather
// than served by an accept that fails at once or never returns.
func TestSocketActivationRefusesNonListening(t *testing.T) {
	root := opsRoot(t)
	for _, eng := range []string{"goroutine", "epoll", "process"} {
		t.Run(eng, func(t *testing.T) {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			must(t, err)
			must(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
			f := os.NewFile(uintptr(fd), "bound")
			defer f.Close()
			cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, weftBin(t), "serve", root, "--engine", eng, "--workers", "1", "--no-access-log")
			cmd.ExtraFiles = []*os.File{f}
			cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_FDNAMES=web")
			out, err := runToExit(t, cmd)
			msg := strings.TrimSpace(string(out))
			if code := exitStatus(err); code != 1 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "not a listening") {
				t.Errorf("exit %d, output %q: want 1 and one line saying the socket does not listen", code, msg)
			}
		})
	}
}

// TestUserSwitchPidFileStaysRoots: the pid file weft writes as root stays
// root's after the switch. Handed to the user (nobody, shared by other
// services), anyone running as that user could write another process's
// id into it for root's weft reload (or an init script) to signal.
func TestUserSwitchPidFileStaysRoots(t *testing.T) {
	needRoot(t)
	bin := sharedBin(t)
	pidFile := filepath.Join(opsRoot(t), "weft.pid") // a folder root's, 0755
	c := startChild(t, exec.Command(bin, "serve", opsRoot(t), "--engine", "epoll", "--addr", "127.0.0.1:0",
		"--user", "nobody", "--pid-file", pidFile, "--no-access-log"))
	c.line(t, "weft: serving")
	c.waitStderr(t, "now running as user nobody")
	fi, err := os.Stat(pidFile)
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
		t.Errorf("pid file owned by uid %d, mode %v, while weft runs as nobody; want root's, writable by root only", st.Uid, fi.Mode().Perm())
	}
	c.stopOK(t)
}

// TestUserReloadUploadFolder: a reload that turns uploads on for a folder
// the user weft switched to cannot write is refused like a start would be
// (the old configuration keeps serving, the log says why), on an
// in-process engine and under process; it took effect, and every upload
// failed.
func TestUserReloadUploadFolder(t *testing.T) {
	needRoot(t)
	bin := sharedBin(t)
	for _, eng := range []string{"epoll", "process"} {
		t.Run(eng, func(t *testing.T) {
			root := opsRoot(t)    // root's, 0755
			confDir := opsRoot(t) // nobody reads the file again on SIGHUP
			conf := filepath.Join(confDir, "weft.toml")
			writeFile(t, conf, fmt.Sprintf("root = %q\nengine = %q\nworkers = 1\nno_access_log = true\n", root, eng))
			must(t, os.Chmod(conf, 0o644))
			c := startChild(t, exec.Command(bin, "serve", "--config", conf, "--addr", "127.0.0.1:0", "--user", "nobody"))
			c.line(t, "weft: serving")
			c.waitStderr(t, "now running as user nobody")
			writeFile(t, conf, fmt.Sprintf("root = %q\nengine = %q\nworkers = 1\nno_access_log = true\nupload = true\nupload_allow_anonymous = true\n", root, eng))
			must(t, os.Chmod(conf, 0o644))
			c.cmd.Process.Signal(syscall.SIGHUP)
			c.waitStderr(t, "cannot write the upload folder "+root)
			if strings.Contains(c.stderr.String(), "serving the new configuration") {
				t.Errorf("the reload took effect: %s", c.stderr.String())
			}
		})
	}
}

// TestUserS3: started as root without --allow-root, weft serves an s3://
// root as nobody: the privilege check does not take the URL for a folder,
// the disk cache of large objects is made by nobody, and a cache folder
// nobody may not write is refused at start.
func TestUserS3(t *testing.T) {
	needRoot(t)
	s3 := conformance.StartS3(t)
	s3.MakeBucket(t, "users3")
	big := strings.Repeat("0123456789abcdef", 20000) // 320,000 bytes: the disk cache
	s3.Put(t, "users3", "big.bin", []byte(big))
	o := s3.Origin()
	serve := func(extra ...string) *exec.Cmd {
		cmd := exec.Command(sharedBin(t), append([]string{"serve", "s3://users3", "--s3-endpoint", o.Endpoint, "--s3-path-style",
			"--addr", "127.0.0.1:0", "--no-access-log"}, extra...)...)
		cmd.Env = append(withoutAllowRoot(), "AWS_ACCESS_KEY_ID="+o.AccessKey, "AWS_SECRET_ACCESS_KEY="+o.SecretKey)
		return cmd
	}
	// A cache folder nobody may not write is refused at start, in one line.
	rootOnly := opsRoot(t) // root's, 0755
	out, err := serve("--origin-cache-dir", filepath.Join(rootOnly, "cache")).CombinedOutput()
	if want := "cannot write the folder " + rootOnly + " to cache objects of the s3:// root in (origin_cache_dir)"; err == nil || !strings.Contains(string(out), want) || strings.Count(strings.TrimSpace(string(out)), "\n") > 1 {
		t.Errorf("an origin cache folder nobody may not write: %v\n%s\nwant a line with %q", err, out, want)
	}
	c := startChild(t, serve()) // the cache in the system's temporary folder
	m := urlRe.FindString(c.line(t, "weft: serving s3://users3"))
	addr := strings.TrimSuffix(strings.TrimPrefix(m, "http://"), "/")
	resp := fetchRaw(t, "tcp", addr, "/big.bin")
	if !strings.HasPrefix(resp, "HTTP/1.1 200 ") || !strings.HasSuffix(resp, big) {
		t.Errorf("GET /big.bin as nobody: %.200q", resp)
	}
	wantIDs(t, c.cmd.Process.Pid, nobodyIDs)
}
