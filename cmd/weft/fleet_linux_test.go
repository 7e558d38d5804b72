//go:build linux

package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/uring"
)

// The fleet test: weft deploy against three weft serve instances of one
// s3:// root, under load, as the README's "Many servers" section runs them.

// fleetPoll is the instances' --origin-poll.
const fleetPoll = 300 * time.Millisecond

// fleetBigSize is big.bin's size: three of the origin's 1 MiB segments, so
// a range across a segment boundary is two segment fetches.
const fleetBigSize = 3 << 20

// fleetRange is the range each client asks of big.bin: 8 KiB across the
// first segment boundary.
const fleetRangeStart, fleetRangeEnd = 1<<20 - 4096, 1<<20 + 4095

// fleetSite is version v's files: each body names v, big.bin in every
// 16-byte block, and shared.txt is the same in every version.
func fleetSite(v string) map[string]string {
	var big strings.Builder
	for off := 0; off < fleetBigSize; off += 16 {
		fmt.Fprintf(&big, "%s:%012d\n", v, off) // 16 bytes
	}
	js := "var version = '" + v + "';\n"
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(js))
	w.Close()
	return map[string]string{
		"index.html": "<!doctype html><title>site " + v + "</title>\n<link rel=stylesheet href=style.css>" +
			"<script src=app.js></script>\n<p>version " + v + "</p>\n",
		"app.js":     js,
		"app.js.gz":  gz.String(), // a precompressed sidecar, as weft precompress writes
		"style.css":  "body::after { content: '" + v + "'; }\n",
		"big.bin":    big.String(),
		"shared.txt": "the same bytes in every version\n",
	}
}

// contentTag is the ETag weft gives a deployed file: the first 128 bits
// of its SHA-256.
func contentTag(body string) string {
	sum := sha256.Sum256([]byte(body))
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// fleetServe starts weft serve root on eng, polling every poll, with the
// store's flags and environment, and returns its address.
func fleetServe(t *testing.T, root, eng string, poll time.Duration, flags, env []string) string {
	t.Helper()
	cmd := exec.Command(weftBin(t), append([]string{"serve", root, "--engine", eng, "--addr", "127.0.0.1:0", "--no-access-log",
		"--origin-poll", poll.String(), "--origin-cache-dir", t.TempDir()}, flags...)...)
	cmd.Env = append(os.Environ(), env...)
	c := startChild(t, cmd)
	return strings.TrimSuffix(strings.TrimPrefix(urlRe.FindString(c.line(t, "weft: serving "+root)), "http://"), "/")
}

// fleetResp is one exchange a load client made.
type fleetResp struct {
	inst       int
	path       string
	start, end time.Time
	status     int
	version    string // the version the body is wholly of; "" for a 304
	etag       string
	err        string // why the exchange failed; "" when it did not
}

// fleetReq is one request of a client's round.
type fleetReq struct {
	path, header string
	status       int
	// body gives the body wanted of version v and its ETag; nil for none.
	body func(v string) (want, etag string)
	// of, for a request that carries a validator of one version, is that
	// version: status and body are the answer of an instance on it, and
	// altStatus and altBody that of an instance on another.
	of        string
	altStatus int
	altBody   func(v string) (want, etag string)
}

// fleetRound is what each client asks, in order, on one connection: a page
// and its assets, a range across a segment boundary, a conditional GET of
// the shared file with the ETag another instance gave, and (every fourth
// round) the whole large file.
func fleetRound(sharedTag string, sites map[string]map[string]string) []fleetReq {
	file := func(name string) func(string) (string, string) {
		return func(v string) (string, string) { b := sites[v][name]; return b, contentTag(b) }
	}
	return []fleetReq{
		{path: "/", status: 200, body: file("index.html")},
		{path: "/app.js", status: 200, body: file("app.js")},
		{path: "/app.js", header: "Accept-Encoding: gzip\r\n", status: 200, body: func(v string) (string, string) {
			gz := sites[v]["app.js.gz"] // the sidecar's bytes, tagged as its representation
			return gz, strings.TrimSuffix(contentTag(gz), `"`) + `-gzip"`
		}},
		{path: "/style.css", status: 200, body: file("style.css")},
		{path: "/big.bin", header: fmt.Sprintf("Range: bytes=%d-%d\r\n", fleetRangeStart, fleetRangeEnd), status: 206,
			body: func(v string) (string, string) {
				b := sites[v]["big.bin"]
				return b[fleetRangeStart : fleetRangeEnd+1], contentTag(b)
			}},
		{path: "/shared.txt", header: "If-None-Match: " + sharedTag + "\r\n", status: 304},
		// v1's validators: 304 and the range on v1, the new file whole on v2.
		{path: "/", header: "If-None-Match: " + contentTag(sites["v1"]["index.html"]) + "\r\n", status: 304,
			of: "v1", altStatus: 200, altBody: file("index.html")},
		{path: "/big.bin", header: fmt.Sprintf("Range: bytes=%d-\r\nIf-Range: %s\r\n", fleetBigSize-4096, contentTag(sites["v1"]["big.bin"])),
			status: 206, body: func(v string) (string, string) { b := sites[v]["big.bin"]; return b[fleetBigSize-4096:], contentTag(b) },
			of: "v1", altStatus: 200, altBody: file("big.bin")},
		{path: "/big.bin", status: 200, body: file("big.bin")},
	}
}

// fleetCheck checks raw, the response to req: its status, a body wholly
// of one version, and that version's ETag.
func fleetCheck(req fleetReq, raw string, r *fleetResp, versions []string) {
	head, got, _ := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	if f := strings.Fields(lines[0]); len(f) >= 2 {
		r.status, _ = strconv.Atoi(f[1])
	}
	for _, l := range lines[1:] {
		if k, v, _ := strings.Cut(l, ":"); strings.EqualFold(k, "ETag") {
			r.etag = strings.TrimSpace(v)
		}
	}
	status, body := req.status, req.body
	if req.of != "" && r.status == req.altStatus {
		status, body = req.altStatus, req.altBody
	}
	if r.status != status {
		r.err = fmt.Sprintf("status %d, want %d: %.300q", r.status, req.status, raw)
		return
	}
	if body == nil {
		r.version = req.of // a 304 to a validator of one version
		return
	}
	for _, v := range versions {
		// The answer to a validator of a version: of that version with the
		// first status, of another with the second.
		if req.of != "" && (v == req.of) != (status == req.status) {
			continue
		}
		if want, tag := body(v); got == want {
			r.version = v
			if r.etag != tag {
				r.err = fmt.Sprintf("body of %s with ETag %s, want %s", v, r.etag, tag)
			}
			return
		}
	}
	r.err = fmt.Sprintf("status %d with a body of no one version it may be (%d bytes): %.120q", r.status, len(got), got)
}

// TestFleetDeploy deploys a site, then a second version, then rolls back,
// while three weft instances on different engines serve the s3:// root
// under keep-alive load from raw-socket clients: no request fails, no
// response mixes versions, no instance goes back to the old version once
// it has served the new one, every instance switches within its poll
// interval (plus slack for a loaded machine) of the deploy returning, and
// the file both versions share has one ETag everywhere, which any instance
// answers 304 to.
func TestFleetDeploy(t *testing.T) {
	_, flags, env := deployStore(t)
	const root = "s3://weft-site/www"
	sites := map[string]map[string]string{"v1": fleetSite("v1"), "v2": fleetSite("v2")}
	versions := []string{"v1", "v2"}
	deploy := func(args ...string) (id string, returned time.Time) {
		t.Helper()
		code, out, errOut := weft(t, t.TempDir(), env, append(append([]string{"deploy"}, args...), flags...)...)
		returned = time.Now()
		if code != 0 || errOut != "" {
			t.Fatalf("weft deploy %q: exit %d, %s%s", args, code, out, errOut)
		}
		// "switched s3://… to ID (was …)", by a deploy and a rollback
		_, to, _ := strings.Cut(out, "switched "+root+" to ")
		return versionID.FindString(to), returned
	}
	dirs := map[string]string{}
	for _, v := range versions {
		dirs[v] = t.TempDir()
		writeTree(t, dirs[v], sites[v])
		mod := time.Now().Truncate(time.Second)
		for name := range sites[v] { // the sidecar no older than its file, whatever order they were written in
			must(t, os.Chtimes(filepath.Join(dirs[v], name), time.Time{}, mod))
		}
	}
	v1ID, _ := deploy(dirs["v1"], root)

	engines := []string{"epoll", "goroutine", "uring"}
	if err := uring.Available(); err != nil {
		t.Logf("uring: %v; poll instead", err)
		engines[2] = "poll"
	}
	addrs := make([]string, len(engines))
	for i, eng := range engines {
		addrs[i] = fleetServe(t, root, eng, fleetPoll, flags, env)
	}

	// The shared file's ETag is its content's, the same on every instance.
	sharedTag := contentTag(sites["v1"]["shared.txt"])
	sharedTags := func() {
		t.Helper()
		for i, a := range addrs {
			resp := fetchRaw(t, "tcp", a, "/shared.txt")
			if !strings.HasPrefix(resp, "HTTP/1.1 200 ") || !strings.Contains(resp, "\r\nETag: "+sharedTag+"\r\n") {
				t.Errorf("GET /shared.txt from %s (instance %d): %q, want ETag %s", engines[i], i, resp, sharedTag)
			}
		}
	}
	sharedTags()

	// Three keep-alive clients per instance, each asking the round over and
	// over until stop. Request n is round[n%len(round)] (the whole large
	// file every fourth round, the page otherwise), its index in the query
	// (which a static file ignores) so that its answer is checked against
	// it.
	round := fleetRound(sharedTag, sites)
	var (
		mu    sync.Mutex
		resps []fleetResp
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	record := func(r fleetResp) {
		mu.Lock()
		resps = append(resps, r)
		mu.Unlock()
	}
	pick := func(n int) int {
		k := n % len(round)
		if k == len(round)-1 && n/len(round)%4 != 0 {
			k = 0
		}
		return k
	}
	for i := range addrs {
		for range 3 {
			rc := &conformance.RawClient{
				Addr:      addrs[i],
				KeepAlive: true,
				Path:      func(n int) string { k := pick(n); return round[k].path + "?req=" + strconv.Itoa(k) },
				Header:    func(n int) string { return round[pick(n)].header },
				Answered: func(path, raw string, sent, got time.Time) {
					r := fleetResp{inst: i, path: path, start: sent, end: got}
					_, q, _ := strings.Cut(path, "?req=")
					k, _ := strconv.Atoi(q)
					fleetCheck(round[k], raw, &r, versions)
					record(r)
				},
				Lost: func(kind, what string) { record(fleetResp{inst: i, start: time.Now(), err: kind + ": " + what}) },
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc.Run(stop)
			}()
		}
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()

	// served reports, per instance, when a response of version v that
	// started at or after since first ended (zero if none yet).
	served := func(v string, since time.Time) []time.Time {
		mu.Lock()
		defer mu.Unlock()
		first := make([]time.Time, len(addrs))
		for _, r := range resps {
			if r.version == v && !r.start.Before(since) && (first[r.inst].IsZero() || r.end.Before(first[r.inst])) {
				first[r.inst] = r.end
			}
		}
		return first
	}
	// waitAll waits until every instance has served v since since, or 30 s.
	waitAll := func(v string, since time.Time) []time.Time {
		deadline := time.Now().Add(30 * time.Second)
		for {
			first := served(v, since)
			all := true
			for _, f := range first {
				all = all && !f.IsZero()
			}
			if all || time.Now().After(deadline) {
				return first
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	type phase struct {
		name     string
		old, new string
		began    time.Time // the deploy command started
		returned time.Time // it exited
		first    []time.Time
	}
	var phases []phase
	switchTo := func(name, old, new string, args ...string) {
		t.Helper()
		began := time.Now()
		_, returned := deploy(args...)
		first := waitAll(new, began)
		phases = append(phases, phase{name, old, new, began, returned, first})
		time.Sleep(time.Second) // load on the new version
	}

	waitAll("v1", time.Time{}) // load on every instance; v2's ID, to the second, differs from v1's
	time.Sleep(1100 * time.Millisecond)
	switchTo("deploy v2", "v1", "v2", dirs["v2"], root)
	switchTo("rollback to v1", "v2", "v1", "--rollback", v1ID, root)
	stopLoad()
	sharedTags()

	// Zero failed requests.
	counts := map[string]int{}
	failed := 0
	for _, r := range resps {
		counts[engines[r.inst]]++
		if r.err != "" {
			failed++
			if failed <= 20 {
				t.Errorf("%s (instance %d) GET %s at %s: %s", engines[r.inst], r.inst, r.path, r.start.Format("15:04:05.000"), r.err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, len(resps))
	}
	t.Logf("%d requests: %v", len(resps), counts)

	// Per phase and instance: once a response of the new version has ended,
	// no request started later gets the old one; and every instance was on
	// the new version within the poll interval and some slack of the
	// deploy's return.
	bound := fleetPoll + 2*time.Second
	for k, p := range phases {
		until := time.Now() // the next phase may bring the old version back
		if k+1 < len(phases) {
			until = phases[k+1].began
		}
		var lags []string
		for i := range addrs {
			f := p.first[i]
			if f.IsZero() {
				t.Errorf("%s: %s (instance %d) never served %s", p.name, engines[i], i, p.new)
				continue
			}
			lag := f.Sub(p.returned)
			lags = append(lags, fmt.Sprintf("%s %v", engines[i], lag.Round(time.Millisecond)))
			if lag > bound {
				t.Errorf("%s: %s (instance %d) first served %s %v after the deploy returned (bound %v)", p.name, engines[i], i, p.new, lag, bound)
			}
			var back []fleetResp
			for _, r := range resps {
				if r.inst == i && r.version == p.old && r.start.After(f) && r.start.Before(until) {
					back = append(back, r)
				}
			}
			for n, r := range back {
				if n < 5 {
					t.Errorf("%s: %s (instance %d) served %s of %s, started %v after it had served %s", p.name, engines[i], i, r.path, p.old, r.start.Sub(f), p.new)
				}
			}
		}
		sort.Strings(lags)
		t.Logf("%s: the deploy command took %v; first response of %s ended, after it returned, on %s (negative: before it returned)",
			p.name, p.returned.Sub(p.began).Round(time.Millisecond), p.new, strings.Join(lags, ", "))
	}
}

// TestFleetKeep: `weft deploy DIR --keep 1` right after switching leaves
// the version it switched from in the store, because instances serve it
// until their next poll. An instance that polls rarely (1h here, so that it
// is surely still on v1) is asked for v1's files it has not cached yet,
// after the deploy of v2 with --keep 1 and the default grace, v1's objects
// being older than that grace (as they are a day after v1's deploy).
func TestFleetKeep(t *testing.T) {
	s3, flags, env := deployStore(t)
	const root = "s3://weft-site/www"
	page := func(v string, i int) string { return fmt.Sprintf("<p>%s, page %d</p>\n", v, i) }
	dirs := map[string]string{}
	for _, v := range []string{"v1", "v2"} {
		files := map[string]string{}
		for i := range 20 {
			files[fmt.Sprintf("page-%d.html", i)] = page(v, i)
		}
		dirs[v] = t.TempDir()
		writeTree(t, dirs[v], files)
	}
	deploy := func(args ...string) string {
		t.Helper()
		code, out, errOut := weft(t, t.TempDir(), env, append(append([]string{"deploy"}, args...), flags...)...)
		if code != 0 || errOut != "" {
			t.Fatalf("weft deploy %q: exit %d, %s%s", args, code, out, errOut)
		}
		return out
	}
	deploy(dirs["v1"], root)
	addr := fleetServe(t, root, "epoll", time.Hour, flags, env)
	if resp := fetchRaw(t, "tcp", addr, "/page-0.html"); !strings.HasSuffix(resp, "\r\n\r\n"+page("v1", 0)) {
		t.Fatalf("GET /page-0.html before: %q", resp)
	}

	// v1's objects uploaded two hours ago, as far as the store can tell.
	objects := filepath.Join(s3.Dir, "weft-site", "www", ".weft", "objects")
	ents, err := os.ReadDir(objects)
	must(t, err)
	old := time.Now().Add(-2 * time.Hour)
	for _, e := range ents {
		must(t, os.Chtimes(filepath.Join(objects, e.Name()), old, old))
	}
	time.Sleep(1100 * time.Millisecond) // version IDs are to the second
	out := deploy(dirs["v2"], root, "--keep", "1")
	t.Logf("weft deploy --keep 1:\n%s", out)

	for i := range 10 {
		p := fmt.Sprintf("/page-%d.html", i)
		if resp := fetchRaw(t, "tcp", addr, p); !strings.HasPrefix(resp, "HTTP/1.1 200 ") || !strings.HasSuffix(resp, "\r\n\r\n"+page("v1", i)) {
			t.Errorf("GET %s from an instance still on v1, after deploy --keep 1: %.200q", p, resp)
		}
	}
	// --keep alone, at once, takes v1 from under the instance still on it
	// (what the README says not to do): a file of v1 it has not cached is
	// a 503, which a load balancer retries elsewhere, not a 500.
	deploy("--keep", "1", root)
	for i := 10; i < 20; i++ {
		p := fmt.Sprintf("/page-%d.html", i)
		if resp := fetchRaw(t, "tcp", addr, p); !strings.HasPrefix(resp, "HTTP/1.1 503 ") {
			t.Errorf("GET %s from an instance on a version whose objects are gone: %.200q", p, resp)
		}
	}
}
