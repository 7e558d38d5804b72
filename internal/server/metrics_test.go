package server_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/quic-go/quic-go/http3"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// scrape reads the admin listener's /metrics, parsed.
func scrape(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return fams
}

// value sums the series of family name whose labels include want
// ("name=value" pairs); for a histogram, its count.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range f.Metric {
		for _, w := range want {
			k, v, _ := strings.Cut(w, "=")
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// oneRequest sends raw on a connection of its own and returns the status,
// the fields and the body length of the answer, read to the end.
func oneRequest(t *testing.T, addr, raw string) (int, http.Header, int64) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: strings.Fields(raw)[0]})
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, n
}

// metricsLoad is what each engine is sent: n requests of each kind, each
// on its connection, and the counters that must follow.
type metricsLoad struct {
	want map[string]float64 // "name label=value ..." → value
	reqs int
}

func sendMetricsLoad(t *testing.T, addr string, n int) metricsLoad {
	t.Helper()
	big, _ := os.ReadFile(filepath.Join(testRoot, "big.bin"))
	_, h, body11 := oneRequest(t, addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	var body10 int64
	etag := h.Get("ETag")
	kinds := []struct {
		raw    string
		status int
	}{
		{"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200},
		{"GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 404},
		{"GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: " + etag + "\r\nConnection: close\r\n\r\n", 304},
		{"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200},
		{"GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=2-5\r\nConnection: close\r\n\r\n", 206},
		{"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200},
		{"GET /hello.txt HTTP/1.0\r\n\r\n", 200},
	}
	for i := 0; i < n; i++ {
		for _, k := range kinds {
			got, _, body := oneRequest(t, addr, k.raw)
			if got != k.status {
				t.Fatalf("%q: status %d, want %d", k.raw, got, k.status)
			}
			if strings.Contains(k.raw, "HTTP/1.0") {
				body10 += body
			} else {
				body11 += body
			}
		}
	}
	f := float64(n)
	bl := float64(len(big))
	return metricsLoad{reqs: 1 + n*len(kinds), want: map[string]float64{
		"weft_http_requests_total proto=1.1 method=GET code=2xx":  1 + 3*f, // the ETag's, 200, 206, big
		"weft_http_requests_total proto=1.1 method=GET code=3xx":  f,
		"weft_http_requests_total proto=1.1 method=GET code=4xx":  f,
		"weft_http_requests_total proto=1.1 method=HEAD code=2xx": f,
		"weft_http_requests_total proto=1.0 method=GET code=2xx":  f,
		"weft_http_requests_total code=5xx":                       0,
		"weft_http_response_body_bytes_total proto=1.1":           float64(body11),
		"weft_http_response_body_bytes_total proto=1.0":           float64(body10),
		"weft_http_request_duration_seconds":                      1 + 7*f,
		"weft_connections_accepted_total":                         1 + 7*f,
		"weft_sendfile_bytes_total":                               f * bl, // big.bin is beyond cache_max_file
	}}
}

// checkLoad compares the scraped counters with the load's, waiting a
// moment for connections to be released.
func checkLoad(t *testing.T, admin string, load metricsLoad, extra map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams := scrape(t, admin)
		var bad []string
		check := func(key string, want float64) {
			f := strings.Fields(key)
			if got := value(fams, f[0], f[1:]...); got != want {
				bad = append(bad, fmt.Sprintf("%s = %v, want %v", key, got, want))
			}
		}
		for k, v := range load.want {
			check(k, v)
		}
		for k, v := range extra {
			check(k, v)
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d requests:\n%s", load.reqs, strings.Join(bad, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var testRoot string

// TestMetricsCountExactly: after n requests of each kind, the scraped
// counters match exactly, on every in-process engine; a kept-alive
// connection shows as open and idle.
func TestMetricsCountExactly(t *testing.T) {
	testRoot = conformance.Tree(t)
	for _, eng := range []string{"serial", "thread", "goroutine", "poll", "epoll", "uring"} {
		t.Run(eng, func(t *testing.T) {
			admin := freeAddr(t)
			w := startWeft(t, server.Config{Engine: eng, AdminAddr: admin, Site: site.Config{Root: testRoot}})
			load := sendMetricsLoad(t, w.addr, 3)
			checkLoad(t, admin, load, map[string]float64{
				"weft_connections_open":                  0,
				"weft_connections_idle":                  0,
				"weft_worker_restarts_total":             0,
				"weft_http_requests_total engine=" + eng: float64(load.reqs),
			})
			// A kept-alive connection, answered once: open and idle.
			c, err := net.Dial("tcp", w.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			checkLoad(t, admin, metricsLoad{reqs: load.reqs + 1}, map[string]float64{
				"weft_connections_open":           1,
				"weft_connections_idle":           1,
				"weft_connections_accepted_total": float64(load.reqs + 1),
			})
		})
	}
}

// TestMetricsProcessSumsWorkers: under the process engine the supervisor's
// /metrics sums its workers' counters exactly, and counts a worker killed
// and restarted.
func TestMetricsProcessSumsWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	testRoot = conformance.Tree(t)
	bin, cleanup, err := conformance.BuildBinary("../..")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	admin := freeAddr(t)
	srv := conformance.StartBinary(bin, "--engine", "process", "--workers", "2", "--worker-engine", "epoll", "--admin", admin)(t, conformance.Options{Site: site.Config{Root: testRoot}})
	load := sendMetricsLoad(t, srv.Addr, 4)
	checkLoad(t, admin, load, map[string]float64{
		"weft_connections_open":                   0,
		"weft_http_requests_total engine=process": float64(load.reqs),
		"weft_worker_restarts_total":              0,
	})
	// Ready once every worker has said it serves: the load above may
	// have been served by one while the other was still starting.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with the workers serving: %v %v", resp, err)
		}
	}
	if v := value(scrape(t, admin), "weft_build_info"); v != 1 {
		t.Errorf("weft_build_info = %v, want 1", v)
	}
	// Kill a worker: the supervisor restarts it and counts it, and the
	// sums keep what the dead worker had counted.
	pids := workerPids(t, srv.PID)
	if len(pids) != 2 {
		t.Fatalf("workers: %v, want 2", pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for value(scrape(t, admin), "weft_worker_restarts_total") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("weft_worker_restarts_total did not reach 1")
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkLoad(t, admin, load, nil)

	// A reload replaces every worker: the sums keep what the old ones
	// counted, also since the last scrape (they leave their final
	// counts), and go on from there.
	load = addLoads(load, sendMetricsLoad(t, srv.Addr, 1))
	before := workerPids(t, srv.PID)
	syscall.Kill(srv.PID, syscall.SIGHUP)
	deadline = time.Now().Add(20 * time.Second)
	for {
		now := workerPids(t, srv.PID)
		if len(now) == 2 && !slices.Contains(now, before[0]) && !slices.Contains(now, before[1]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers %v after a reload, were %v", now, before)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkLoad(t, admin, load, nil)
	load = addLoads(load, sendMetricsLoad(t, srv.Addr, 2))
	checkLoad(t, admin, load, map[string]float64{"weft_connections_open": 0, "weft_worker_restarts_total": 1})
}

// addLoads is what a and b sent together.
func addLoads(a, b metricsLoad) metricsLoad {
	sum := metricsLoad{reqs: a.reqs + b.reqs, want: map[string]float64{}}
	for k, v := range a.want {
		sum.want[k] = v + b.want[k]
	}
	return sum
}

// workerPids lists the child processes of pid (a supervisor's workers).
func workerPids(t *testing.T, pid int) []int {
	t.Helper()
	// Workers are forked from a locked thread, not necessarily the main one.
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil || len(tasks) == 0 {
		t.Skipf("no /proc/PID/task/*/children here: %v", err)
	}
	var pids []int
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// TestMetricsHTTP2: requests over HTTP/2 count with proto="2", over
// HTTP/3 with proto="3", beside HTTP/1.1 over TLS.
func TestMetricsHTTP2(t *testing.T) {
	testRoot = conformance.Tree(t)
	certs := conformance.NewCerts(t)
	admin := freeAddr(t)
	tcfg := tlsWith(certs)
	tcfg.HTTP3 = true
	w := startWeft(t, server.Config{AdminAddr: admin, TLS: tcfg, Site: site.Config{Root: testRoot}})
	tconf := &tls.Config{RootCAs: certs.Pool, ServerName: "localhost"}
	h2 := &http.Transport{TLSClientConfig: tconf, DisableCompression: true, Protocols: new(http.Protocols)}
	h2.Protocols.SetHTTP2(true)
	defer h2.CloseIdleConnections()
	client := &http.Client{Transport: h2}
	const n = 5
	var body int64
	for i := 0; i < n; i++ {
		for _, p := range []string{"/hello.txt", "/missing"} {
			resp, err := client.Get("https://" + w.addr + p)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := io.Copy(io.Discard, resp.Body)
			body += k
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("%s: %s, want HTTP/2", p, resp.Proto)
			}
		}
		req, _ := http.NewRequest("HEAD", "https://"+w.addr+"/hello.txt", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// HTTP/3.
	h3 := &http3.Transport{TLSClientConfig: tconf.Clone(), DisableCompression: true}
	defer h3.Close()
	for i := 0; i < n; i++ {
		resp, err := (&http.Client{Transport: h3}).Get("https://" + w.addr + "/hello.txt")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 3 {
			t.Fatalf("%s, want HTTP/3", resp.Proto)
		}
	}
	// And HTTP/1.1 over TLS, through the engine.
	h1conf := tconf.Clone()
	h1conf.NextProtos = []string{"http/1.1"}
	c, err := tls.Dial("tcp", w.addr, h1conf)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	io.Copy(io.Discard, c)
	c.Close()
	checkLoad(t, admin, metricsLoad{reqs: 4*n + 1}, map[string]float64{
		"weft_http_requests_total proto=3 method=GET code=2xx":   n,
		"weft_http_requests_total proto=2 method=GET code=2xx":   n,
		"weft_http_requests_total proto=2 method=GET code=4xx":   n,
		"weft_http_requests_total proto=2 method=HEAD code=2xx":  n,
		"weft_http_requests_total proto=1.1 method=GET code=2xx": 1,
		"weft_http_response_body_bytes_total proto=2":            float64(body),
		"weft_http_request_duration_seconds":                     4*n + 1,
	})
}

// TestHealthAndReadiness: /healthz answers while the process runs;
// /readyz turns 503 when the root goes away and 200 when it returns.
func TestHealthAndReadiness(t *testing.T) {
	root := filepath.Join(t.TempDir(), "www")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "index.html"), []byte("hi\n"), 0o644)
	admin := freeAddr(t)
	startWeft(t, server.Config{AdminAddr: admin, PprofAddr: freeAddr(t), Site: site.Config{Root: root}})
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d %q, want 200", code, body)
	}
	if code, _ := get("/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ on the admin listener with pprof on: %d", code)
	}
	if err := os.Rename(root, root+".away"); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "root") {
		t.Errorf("/readyz without the root: %d %q, want 503 and the reason", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz without the root: %d", code)
	}
	if err := os.Rename(root+".away", root); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz with the root back: %d %q", code, body)
	}
}
