package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/report"
)

// benchRun runs `weft bench args...` and returns its stdout, stderr and
// exit code.
func benchRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(weftBin(t), append([]string{"bench"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestBench runs a tiny sweep on two engines and checks the table and
// the JSON: every point measured, and serial serving one keep-alive
// client of four at a time (the others starve).
func TestBench(t *testing.T) {
	dir := t.TempDir()
	jsonFile, csvFile, htmlFile := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.csv"), filepath.Join(dir, "run.html")
	out, errs, code := benchRun(t, "--duration", "200ms", "--conns", "4", "--engines", "goroutine,serial",
		"--workload", "small,idle", "--addr-range", "127.0.0.1:19100-19199", "--json", jsonFile, "--csv", csvFile, "--report", htmlFile, "--charts", filepath.Join(dir, "charts"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if strings.Contains(errs, "\r") {
		t.Errorf("a progress line on a stderr that is not a terminal: %q", errs)
	}
	run, err := report.ReadJSON(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Points) != 4 {
		t.Fatalf("%d points; want 2 engines × 2 workloads × 1 conns", len(run.Points))
	}
	for _, p := range run.Points {
		if !strings.Contains(out, fmt.Sprintf("| %s | %s | %d | %d |", p.Server, p.Workload, p.Conns, p.Served)) {
			t.Errorf("no table row for %s", p.Key())
		}
		if p.Failure != "" || p.ServerCPU < 0 || p.RSSEnd <= 0 || p.Threads <= 0 {
			t.Errorf("%s: failure %q, server CPU %v, RSS %d, threads %d", p.Key(), p.Failure, p.ServerCPU, p.RSSEnd, p.Threads)
		}
		switch {
		case p.Workload == "small" && p.Server == "goroutine" && (p.Served != 4 || p.Requests == 0 || p.ErrorCount() != 0):
			t.Errorf("%s: served %d of 4, %d requests, errors %v", p.Key(), p.Served, p.Requests, p.Errors)
		case p.Workload == "small" && p.Server == "serial" && p.Served != 1:
			t.Errorf("%s: serial served %d keep-alive clients of 4 at once; want 1", p.Key(), p.Served)
		case p.Workload == "idle" && p.Server == "goroutine" && (p.IdleHeld != 4 || p.Requests == 0):
			t.Errorf("%s: %d idle connections held of 4, %d requests", p.Key(), p.IdleHeld, p.Requests)
		case p.Workload == "idle" && p.Server == "serial" && p.Requests != 0:
			// serial is busy with the first idle connection: nobody is served.
			t.Errorf("%s: %d requests served behind an idle connection", p.Key(), p.Requests)
		}
	}
	b, err := os.ReadFile(csvFile)
	if err != nil || strings.Count(string(b), "\n") != 5 || !strings.HasPrefix(string(b), "server,workload,conns,") {
		t.Errorf("CSV (%v):\n%s", err, b)
	}

	html, err := os.ReadFile(htmlFile)
	if err != nil || strings.Count(string(html), `<circle class="dot"`) < 4 || !strings.Contains(string(html), `<figure id="rss">`) {
		t.Errorf("report (%v): %d points drawn", err, strings.Count(string(html), `<circle class="dot"`))
	}

	for _, c := range []string{"rps", "p99", "rss", "cpu", "rps-idle"} {
		if _, err := os.Stat(filepath.Join(dir, "charts", c+".svg")); err != nil {
			t.Errorf("--charts: %v", err)
		}
	}

	// compare: a run against itself is 1.00 everywhere.
	cmp, errs, code := benchRun(t, "compare", jsonFile, jsonFile)
	if code != 0 || !strings.Contains(cmp, "| goroutine | small | 4 |") || !strings.Contains(cmp, "| 1.00 |") {
		t.Errorf("compare: exit %d\n%s\n%s", code, cmp, errs)
	}
}

// TestBenchAgainst measures a server the test runs (net/http's file
// server over the bench's files), reading this process's CPU through --pid.
func TestBenchAgainst(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.StripPrefix("/files/", http.FileServer(http.Dir(dir)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	jsonFile := filepath.Join(dir, "run.json")
	out, errs, code := benchRun(t, dir, "--engines", "none", "--against", "http://"+ln.Addr().String()+"/files", "--label", "net/http",
		"--pid", fmt.Sprint(os.Getpid()), "--workload", "small,128k", "--conns", "2", "--duration", "200ms", "--json", jsonFile)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	run, err := report.ReadJSON(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range run.Points {
		if p.Server != "net/http" || p.Requests == 0 || p.ErrorCount() != 0 || p.ServerCPU <= 0 || p.RSSEnd <= 0 {
			t.Errorf("%+v", p)
		}
		if want := map[string]float64{"small": 1 << 10, "128k": 128 << 10}[p.Workload]; p.MBps*1e6 < want*p.RPS*0.99 {
			t.Errorf("%s: %.1f MB/s at %.0f req/s; want %v bytes per request", p.Key(), p.MBps, p.RPS, want)
		}
	}

	// A server that does not serve the files fails its points, clearly.
	out, _, code = benchRun(t, "--engines", "none", "--against", "http://"+ln.Addr().String()+"/elsewhere/", "--workload", "small", "--conns", "1", "--duration", "100ms")
	if code != 0 || !strings.Contains(out, "failed: GET http://") || !strings.Contains(out, "404") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestBenchAddrRange: engines listen inside --addr-range only; with its
// one port taken, they fail to start, and say why.
func TestBenchAddrRange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	out, errs, code := benchRun(t, "--engines", "goroutine", "--addr-range", fmt.Sprintf("127.0.0.1:%d-%d", port, port),
		"--workload", "small", "--conns", "1", "--duration", "50ms")
	if want := fmt.Sprintf("failed: weft: bench: no free port in 127.0.0.1:%d-%d", port, port); code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d; want a row %q:\n%s\n%s", code, want, out, errs)
	}
}

// TestBenchBadFlags: each mistake is one line on stderr and exit 2,
// before any server starts.
func TestBenchBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--addr-range", "0.0.0.0:19000-19010"}, "loopback only"},
		{[]string{"--addr-range", "192.168.1.2:19000-19010"}, "loopback only"},
		{[]string{"--addr-range", "127.0.0.1:19010-19000"}, "LOW-HIGH"},
		{[]string{"--against", "http://example.com/"}, "this machine only"},
		{[]string{"--against", "https://127.0.0.1:8443/"}, "plain HTTP"},
		{[]string{"--label", "x"}, "more --label"},
		{[]string{"--workload", "huge"}, `unknown workload "huge"`},
		{[]string{"--conns", "0"}, "bad connection count"},
		{[]string{"--conns", "4x"}, "bad connection count"},
		{[]string{"--engines", "fork"}, `unknown engine "fork"`},
		{[]string{"--client-cpus", "1-0"}, "bad CPU list"},
		{[]string{"--duration", "0s"}, "must be positive"},
		{[]string{"--engines", "none"}, "nothing to measure"},
		{[]string{"a", "b"}, "one DIR at most"},
		{[]string{"compare", "one.json"}, "compare wants two files"},
		{[]string{"--rate", "fast"}, `invalid value "fast" for flag --rate`},
	}
	for _, tc := range cases {
		out, errs, code := benchRun(t, tc.args...)
		lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
		if code != 2 || len(lines) != 2 || !strings.HasPrefix(lines[0], "weft bench: ") || !strings.Contains(lines[0], tc.want) ||
			lines[1] != "Run 'weft bench --help' for usage." || strings.Contains(out, "| server |") {
			t.Errorf("%v: exit %d, stderr %q; want 2, a line with %q and the hint, no sweep", tc.args, code, errs, tc.want)
		}
	}
	// An output that cannot be written fails before the sweep, not after.
	out, errs, code := benchRun(t, "--json", "/proc/no/run.json", "--workload", "small", "--conns", "1")
	if code != 1 || strings.Contains(out, "| server |") || !strings.Contains(errs, "/proc/no") {
		t.Errorf("--json into /proc: exit %d, stdout %q, stderr %q; want 1, no sweep, the path", code, out, errs)
	}
	_, errs, code = benchRun(t, "compare", "/nonexistent.json", "/nonexistent.json")
	if code != 1 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("compare of missing files: exit %d, %q", code, errs)
	}
}
