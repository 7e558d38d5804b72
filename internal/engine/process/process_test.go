//go:build linux

package process_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/site"
)

var bin string

func TestMain(m *testing.M) {
	b, cleanup, err := conformance.BuildBinary("../../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = b
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	for _, inner := range []string{"goroutine", "epoll"} {
		t.Run(inner, func(t *testing.T) {
			conformance.Run(t, conformance.StartBinary(bin, "--engine", "process", "--workers", "2", "--worker-engine", inner),
				conformance.Capabilities{Concurrent: true, Workers: 2})
		})
	}
}

// children lists the live child processes of pid, from /proc.
func children(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces; split after ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	sort.Ints(kids)
	return kids
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	return !strings.HasPrefix(rest, "Z")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func start(t *testing.T, workers int, extra ...string) *conformance.Server {
	root := conformance.Tree(t)
	args := append([]string{"--engine", "process", "--workers", strconv.Itoa(workers)}, extra...)
	return conformance.StartBinary(bin, args...)(t, conformance.Options{Site: site.Config{Root: root}})
}

// load runs clients that fetch continuously until stop closes, counting
// successes and failures. Half reuse connections, half open a new one per
// request.
func load(addr string, stop chan struct{}, ok, failed *atomic.Int64, errs chan<- error) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tr := &http.Transport{DisableKeepAlives: i%2 == 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("http://" + addr + "/hello.txt")
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "hello, world\n" {
						err = fmt.Errorf("status %d body %q", resp.StatusCode, b)
					}
				}
				if err != nil {
					failed.Add(1)
					select {
					case errs <- err:
					default:
					}
					continue
				}
				ok.Add(1)
			}
		}(i)
	}
	return &wg
}

// underLoad is a prefork server with its workers up and clients running.
type underLoad struct {
	srv        *conformance.Server
	kids       []int
	ok, failed atomic.Int64
	errs       chan error
	stop       chan struct{}
	wg         *sync.WaitGroup
}

func startUnderLoad(t *testing.T, workers int, extra ...string) *underLoad {
	u := &underLoad{srv: start(t, workers, extra...), errs: make(chan error, 10), stop: make(chan struct{})}
	waitFor(t, "the workers", func() bool { u.kids = children(t, u.srv.PID); return len(u.kids) == workers })
	u.wg = load(u.srv.Addr, u.stop, &u.ok, &u.failed, u.errs)
	time.Sleep(200 * time.Millisecond)
	return u
}

func (u *underLoad) finish() {
	close(u.stop)
	u.wg.Wait()
}

func TestWorkerKilledIsReplaced(t *testing.T) {
	u := startUnderLoad(t, 2)
	srv, kids, ok, failed := u.srv, u.kids, &u.ok, &u.failed
	if err := syscall.Kill(kids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a replacement worker", func() bool {
		now := children(t, srv.PID)
		return len(now) == 2 && now[0] != kids[0] && now[1] != kids[0]
	})
	before := ok.Load()
	time.Sleep(300 * time.Millisecond)
	u.finish()
	if ok.Load() == before {
		t.Fatal("no request served after the worker was replaced")
	}
	// Requests in flight on the killed worker's connections may fail:
	// that is what kill -9 does. Everything after must succeed, and the
	// survivor keeps serving throughout, so failures stay few.
	if f := failed.Load(); f > 8 {
		t.Errorf("%d failed requests (of %d) around a worker kill", f, ok.Load()+f)
	}
}

// TestReloadUnderLoadLosesNothing reloads twice under load, with each
// in-process engine a worker can run: new workers start before old ones
// drain, and the listening socket they share is never disturbed.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	for _, inner := range []string{"epoll", "goroutine", "thread"} {
		t.Run(inner, func(t *testing.T) { testReload(t, inner) })
	}
}

func testReload(t *testing.T, inner string) {
	u := startUnderLoad(t, 2, "--worker-engine", inner)
	srv, kids, ok, failed, errs := u.srv, u.kids, &u.ok, &u.failed, u.errs
	for i := 0; i < 2; i++ {
		prev := children(t, srv.PID)
		if err := syscall.Kill(srv.PID, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "old workers gone after SIGHUP", func() bool {
			for _, p := range prev {
				if alive(p) {
					return false
				}
			}
			return len(children(t, srv.PID)) == 2
		})
		time.Sleep(200 * time.Millisecond)
	}
	u.finish()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed across two reloads; first: %v", f, ok.Load()+f, <-errs)
	}
	if ok.Load() < 100 {
		t.Fatalf("only %d requests served during the test", ok.Load())
	}
	now := children(t, srv.PID)
	for _, p := range now {
		for _, k := range kids {
			if p == k {
				t.Fatalf("worker %d survived two reloads", p)
			}
		}
	}
	t.Logf("%d requests, 0 failed, across two reloads", ok.Load())
}

func TestNoOrphans(t *testing.T) {
	srv := start(t, 3)
	var kids []int
	waitFor(t, "3 workers", func() bool { kids = children(t, srv.PID); return len(kids) == 3 })
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if alive(k) {
			t.Errorf("worker %d outlived the supervisor", k)
		}
	}
}

func TestSupervisorKilledTakesWorkers(t *testing.T) {
	srv := start(t, 2)
	var kids []int
	waitFor(t, "2 workers", func() bool { kids = children(t, srv.PID); return len(kids) == 2 })
	syscall.Kill(srv.PID, syscall.SIGKILL)
	srv.Stop() // reaps it; the error ("signal: killed") is the point
	waitFor(t, "workers to exit after the supervisor died", func() bool {
		for _, k := range kids {
			if alive(k) {
				return false
			}
		}
		return true
	})
}
