//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
)

// TestReloadUnderLoad is the reload claim attacked: keep-alive clients in
// a loop and clients that open a new connection per request, all on raw
// sockets (no retries), while the configuration file changes the
// Cache-Control of the served files 20 times, each followed by SIGHUP. No
// request may fail or be cut, and every response must carry a value that
// was current at some moment of its request: generation n is current from
// the writing of its file until generation n+1 is known to be the only one
// served (its log line: the swap on the in-process engines, the old
// workers' exit on the process engine).
func TestReloadUnderLoad(t *testing.T) {
	for _, eng := range []string{"epoll", "goroutine", "process"} {
		t.Run(eng, func(t *testing.T) { testReloadUnderLoad(t, eng) })
	}
}

// answer is one response as a client saw it.
type answer struct {
	sent, got time.Time
	gen       int
}

func testReloadUnderLoad(t *testing.T, eng string) {
	const reloads = 20
	dir := t.TempDir()
	root := filepath.Join(dir, "site")
	os.Mkdir(root, 0o755)
	bodies := map[string]string{
		"/small.txt": "small\n",
		"/large.txt": strings.Repeat("large file, held open and sent with sendfile\n", 2000), // beyond cache_max_file
	}
	for p, b := range bodies {
		writeFile(t, filepath.Join(root, p), b)
	}
	paths := []string{"/small.txt", "/large.txt"}
	conf := filepath.Join(dir, "weft.toml")
	generation := func(n int) {
		// Odd generations cache nothing: every request takes the disk
		// path, so that reloads meet requests in it.
		writeFile(t, conf, fmt.Sprintf("root = \"site\"\ncompress = false\ncache_max_bytes = %d\ncache_control = [\"*.txt=max-age=%d\"]\n", (n+1)%2<<20, n))
	}
	generation(0)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := startServeIn(t, dir, nil, pr, pw, nil, "--no-access-log", "--engine", eng, "--workers", "2")
	pr.Close()
	done := "reload: serving the new configuration"
	if eng == "process" {
		waitLog(t, s.stderr, "workers ready", 1)
		done = "reload: old workers stopped"
	}

	// current[n] is when generation n became possible (its file written);
	// until[n] when it surely stopped being served.
	current := make([]time.Time, reloads+1)
	until := make([]time.Time, reloads+1)
	current[0] = time.Now()
	until[reloads] = time.Now().Add(time.Hour)

	var mu sync.Mutex
	var answers []answer
	var lost []string
	fail := func(what string) {
		mu.Lock()
		lost = append(lost, what)
		mu.Unlock()
	}
	record := func(p, raw string, sent, got time.Time) {
		head, body, _ := strings.Cut(raw, "\r\n\r\n")
		age, ok := strings.CutPrefix(header(raw, "Cache-Control"), "max-age=")
		gen, err := strconv.Atoi(age)
		switch {
		case !strings.HasPrefix(head, "HTTP/1.1 200 ") || body != bodies[p]:
			fail(fmt.Sprintf("GET %s: wrong answer %q", p, head))
		case !ok || err != nil:
			fail(fmt.Sprintf("GET %s: Cache-Control %q", p, header(raw, "Cache-Control")))
		default:
			mu.Lock()
			answers = append(answers, answer{sent, got, gen})
			mu.Unlock()
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		rc := &conformance.RawClient{
			Addr:      s.addr,
			KeepAlive: i%2 == 0,
			Path:      func(n int) string { return paths[(i+n)%len(paths)] },
			Answered:  record,
			Lost:      func(kind, what string) { fail(kind + ": " + what) },
		}
		go func() {
			defer wg.Done()
			rc.Run(stop)
		}()
	}
	for n := 1; n <= reloads; n++ {
		time.Sleep(50 * time.Millisecond)
		current[n] = time.Now()
		generation(n)
		if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(t, s.stderr, done, n)
		until[n-1] = time.Now()
		// New requests see the new value.
		if cc := header(rawGet(t, s.addr, "/small.txt"), "Cache-Control"); cc != fmt.Sprintf("max-age=%d", n) {
			t.Errorf("generation %d served, yet a new request gets %q", n, cc)
		}
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()

	seen := map[int]int{}
	var stale []string
	for _, a := range answers {
		seen[a.gen]++
		if a.gen < 0 || a.gen > reloads {
			stale = append(stale, fmt.Sprintf("generation %d does not exist", a.gen))
			continue
		}
		if a.got.Before(current[a.gen]) || a.sent.After(until[a.gen]) {
			stale = append(stale, fmt.Sprintf("generation %d, current from %v to %v, answered a request from %v to %v",
				a.gen, current[a.gen].Sub(current[0]), until[a.gen].Sub(current[0]), a.sent.Sub(current[0]), a.got.Sub(current[0])))
		}
	}
	t.Logf("%s: %d answers over %d reloads (%d generations seen), %d lost", eng, len(answers), reloads, len(seen), len(lost))
	if len(lost) > 0 {
		t.Errorf("%d requests failed or were cut; first: %q", len(lost), lost[:min(5, len(lost))])
	}
	if len(stale) > 0 {
		t.Errorf("%d answers carry a value that was not current during their request; first: %q", len(stale), stale[:min(5, len(stale))])
	}
	if len(answers) < 500 {
		t.Errorf("only %d answers", len(answers))
	}
	if strings.Contains(s.stderr.String(), "invalid configuration") || !s.alive() {
		t.Errorf("stderr:\n%s", s.stderr.String())
	}
}
