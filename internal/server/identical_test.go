package server_test

import (
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

var dateLine = regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)

// TestEnginesByteIdentical sends the same pipelined requests to every
// engine and requires the same bytes back, Date aside.
func TestEnginesByteIdentical(t *testing.T) {
	root := conformance.Tree(t)
	reqs := []string{
		"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
		"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /dir?q=1 HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=10-19\r\n\r\n",
		"GET /data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,-2\r\n\r\n",
		"GET /data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=5000-\r\n\r\n",
		"GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n",
		"GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Match: \"nope\"\r\n\r\n",
		"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n",
		"BREW / HTTP/1.1\r\nHost: t\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /.git/config HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /%2e%2e/x HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /style.css HTTP/1.0\r\n\r\n",
	}
	batch := strings.Join(reqs, "")
	got := map[string]string{}
	for name, e := range server.Engines(nil) {
		if name == "process" {
			continue // its workers run these same engines; TestProcessIdentical covers it
		}
		srv := conformance.StartEngine(e)(t, conformance.Options{Site: site.Config{Root: root}})
		got[name] = exchangeAll(t, srv.Addr, batch)
		// The same batch again, chopped into writes of random sizes and
		// read slowly through a small window: the same bytes must come.
		for seed := uint64(1); seed <= 2; seed++ {
			if b := exchangeChoppy(t, srv.Addr, batch, seed); b != got[name] {
				t.Errorf("engine %s, chopped and read slowly (seed %d): %d bytes vs %d, first difference at byte %d",
					name, seed, len(b), len(got[name]), firstDiff(b, got[name]))
			}
		}
	}
	bin, cleanup, err := conformance.BuildBinary("../..")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	srv := conformance.StartBinary(bin, "--engine", "process", "--workers", "2")(t, conformance.Options{Site: site.Config{Root: root}})
	got["process"] = exchangeAll(t, srv.Addr, batch)

	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	want := got["goroutine"]
	if !strings.Contains(want, "HTTP/1.1 206 Partial Content") || len(want) < 1<<20 {
		t.Fatalf("reference output looks wrong (%d bytes)", len(want))
	}
	for _, n := range names {
		if got[n] != want {
			t.Errorf("engine %s differs from goroutine: %d bytes vs %d\nfirst difference at byte %d", n, len(got[n]), len(want), firstDiff(got[n], want))
		}
	}
	if len(names) != 7 {
		t.Errorf("compared %v, want all seven engines", names)
	}
}

func exchangeAll(t *testing.T, addr, batch string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.WriteString(c, batch)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c) // the HTTP/1.0 request last makes the server close
	if err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	return dateLine.ReplaceAllString(string(b), "Date: -\r")
}

// exchangeChoppy sends batch in writes of 1 to 300 bytes with short
// pauses and reads the answers in reads of up to 8 KiB through an 8 KiB
// receive window, pausing too, the sizes drawn from a PRNG seeded with
// seed.
func exchangeChoppy(t *testing.T, addr, batch string, seed uint64) string {
	t.Helper()
	c := conformance.DialSmallWindow(t, addr, 8<<10)
	defer c.Close()
	go func() {
		rng := rand.New(rand.NewPCG(seed, 1))
		for rest := batch; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(300))
			if _, err := io.WriteString(c, rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
			if rng.IntN(4) == 0 {
				time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
			}
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 2))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var b []byte
	buf := make([]byte, 8<<10)
	for {
		n, err := c.Read(buf[:1+rng.IntN(len(buf))])
		b = append(b, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: after %d bytes: %v", addr, len(b), err)
		}
		if rng.IntN(16) == 0 {
			time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
		}
	}
	return dateLine.ReplaceAllString(string(b), "Date: -\r")
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
