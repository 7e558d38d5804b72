//go:build linux

package main

import (
	"bufio"
	"fmt"
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

var allEngines = []string{"serial", "process", "thread", "goroutine", "poll", "epoll"}

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

// rawGet sends one request over a fresh connection (no retry) and returns
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
				kids := childPids(t, pid)
				if len(kids) != 2 {
					t.Fatalf("%d workers, want 2", len(kids))
				}
				for _, k := range kids {
					env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", k))
					must(t, err)
					if strings.Contains(string(env), "LISTEN_") {
						t.Errorf("worker %d was given LISTEN_* in its environment", k)
					}
				}
			}
			c.stop(t)
			if c.err != nil {
				t.Errorf("exit: %v; stderr:\n%s", c.err, c.stderr.String())
			}
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

// childPids lists the children of pid.
func childPids(t *testing.T, pid int) []int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		// The children file lists the children of each thread: read all.
		b = nil
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	seen := map[int]bool{}
	for _, task := range tasks {
		cb, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		b = append(append(b, ' '), cb...)
	}
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
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
