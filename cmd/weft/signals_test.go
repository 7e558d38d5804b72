//go:build linux

package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// started is a `weft serve` child process.
type started struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	exited chan struct{}
}

// startServe runs the binary with args and waits for its banner on the
// pipe stdout (the read end of which the caller owns).
func startServe(t *testing.T, stdoutR, stdoutW *os.File, stderr io.Writer, args ...string) *started {
	t.Helper()
	return startServeIn(t, "", nil, stdoutR, stdoutW, stderr, args...)
}

// startServeIn is startServe in the working directory dir ("" for this
// one) with env added to the environment.
func startServeIn(t *testing.T, dir string, env []string, stdoutR, stdoutW *os.File, stderr io.Writer, args ...string) *started {
	t.Helper()
	s := &started{exited: make(chan struct{})}
	s.cmd = exec.Command(weftBin(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout = stdoutW
	if stderr == nil {
		s.stderr = &syncBuffer{}
		stderr = s.stderr
	}
	s.cmd.Stderr = stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdoutW.Close()
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	u := urlRe.FindString(line)
	if err != nil || u == "" {
		t.Fatalf("no banner: %q, %v", line, err)
	}
	s.addr = strings.Replace(strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"), "localhost:", "127.0.0.1:", 1)
	return s
}

func (s *started) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// get fetches path once over a raw connection (no retry) and returns the
// status line.
func (s *started) get(t *testing.T, path string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer c.Close()
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("GET %s: %v after %q", path, err, b)
	}
	status, _, _ := strings.Cut(string(b), "\r\n")
	return status
}

// waitFile waits until the file name holds want.
func waitFile(t *testing.T, name, want string) {
	t.Helper()
	var b []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, _ = os.ReadFile(name); strings.Contains(string(b), want) {
			return
		}
	}
	t.Fatalf("%s never held %q; it holds %q", name, want, b)
}

// TestSIGHUPEveryEngine: SIGHUP (twice) and SIGUSR1 never kill the server,
// on any engine; each reopens the access log file, so that a log rotated
// by renaming it starts anew, and requests keep being answered.
func TestSIGHUPEveryEngine(t *testing.T) {
	for _, eng := range []string{"serial", "process", "thread", "goroutine", "poll", "epoll"} {
		t.Run(eng, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "root")
			os.Mkdir(root, 0o755)
			os.WriteFile(filepath.Join(root, "index.html"), []byte("<p>hi</p>\n"), 0o644)
			logName := filepath.Join(dir, "access.log")
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			s := startServe(t, pr, pw, nil, root, "--engine", eng, "--workers", "2", "--access-log", logName)
			go io.Copy(io.Discard, pr)
			if st := s.get(t, "/?before"); st != "HTTP/1.1 200 OK" {
				t.Fatalf("before: %q", st)
			}
			waitFile(t, logName, "/?before")
			for i, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGHUP, syscall.SIGUSR1} {
				rotated := logName + "." + string(rune('1'+i))
				if err := os.Rename(logName, rotated); err != nil {
					t.Fatal(err)
				}
				s.cmd.Process.Signal(sig)
				// The reopen is asynchronous: wait for its log line, which
				// each process writes once it has reopened its log. With
				// the process engine, SIGUSR1 is passed on to the 2
				// workers, which reopen their own logs: a request before
				// both did may be logged to the renamed file.
				want := strings.Count(s.stderr.String(), "signal received") + 1
				if eng == "process" && sig == syscall.SIGUSR1 {
					want += 2
				}
				for deadline := time.Now().Add(10 * time.Second); strings.Count(s.stderr.String(), "signal received") < want && time.Now().Before(deadline); {
					time.Sleep(20 * time.Millisecond)
				}
				if !s.alive() {
					t.Fatalf("%v killed the server (%v); stderr:\n%s", sig, s.cmd.ProcessState, s.stderr.String())
				}
				if eng == "process" && sig == syscall.SIGHUP {
					// The new workers open the log afresh once they start;
					// the old ones, stopping in the background after
					// "reloaded", may still take a connection from the
					// shared socket and log it to the renamed file.
					waitLog(t, s.stderr, "reloaded", i+1)
					waitLog(t, s.stderr, "old workers stopped", i+1)
				}
				path := "/?after-" + sig.String()[:4] + string(rune('1'+i))
				if st := s.get(t, path); st != "HTTP/1.1 200 OK" {
					t.Fatalf("after %v: %q", sig, st)
				}
				waitFile(t, logName, path)
			}
			if !s.alive() {
				t.Fatalf("the server died; stderr:\n%s", s.stderr.String())
			}
			want := 3
			if eng == "process" {
				want = 5 // and each of the 2 workers for SIGUSR1, passed on
			}
			if c := strings.Count(s.stderr.String(), "signal received"); c != want {
				t.Errorf("%d 'signal received' lines for 3 signals, want %d:\n%s", c, want, s.stderr.String())
			}
		})
	}
}

// waitLog waits until the error log holds at least n lines with want.
func waitLog(t *testing.T, b *syncBuffer, want string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Count(b.String(), want) >= n {
			return
		}
	}
	t.Fatalf("error log never held %d x %q:\n%s", n, want, b.String())
}

// TestClosedLogPipes: `weft serve | head -1` closes weft's stdout after
// the banner. The access log's next flush fails with EPIPE: weft says so
// once on stderr and keeps serving, and a closed stderr too kills nothing.
func TestClosedLogPipes(t *testing.T) {
	for _, eng := range []string{"epoll", "goroutine", "process"} {
		t.Run(eng+"/stdout", func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			s := startServe(t, pr, pw, nil, "--engine", eng, "--workers", "2")
			pr.Close() // head -1 exits
			if st := s.get(t, "/"); st != "HTTP/1.1 200 OK" {
				t.Fatalf("%q", st)
			}
			waitLog(t, s.stderr, "access log: write failed", 1)
			for i := 0; i < 3; i++ {
				time.Sleep(500 * time.Millisecond) // flushes come every second
				if st := s.get(t, "/"); st != "HTTP/1.1 200 OK" {
					t.Fatalf("%q", st)
				}
			}
			time.Sleep(1500 * time.Millisecond)
			if !s.alive() {
				t.Fatalf("weft died with its stdout closed (%v); stderr:\n%s", s.cmd.ProcessState, s.stderr.String())
			}
			want := 1
			if eng == "process" {
				want = 2 // one report per worker
			}
			if c := strings.Count(s.stderr.String(), "access log: write failed"); c > want {
				t.Errorf("%d reports of one outage:\n%s", c, s.stderr.String())
			}
		})
		t.Run(eng+"/stdout+stderr", func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			er, ew, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			er.Close()
			s := startServe(t, pr, pw, ew, "--engine", eng, "--workers", "2")
			ew.Close()
			pr.Close()
			for i := 0; i < 6; i++ {
				if st := s.get(t, "/"); st != "HTTP/1.1 200 OK" {
					t.Fatalf("%q", st)
				}
				time.Sleep(500 * time.Millisecond)
			}
			if !s.alive() {
				t.Fatalf("weft died with stdout and stderr closed: %v", s.cmd.ProcessState)
			}
		})
	}
}
