package server_test

import (
	"io"
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
	if len(names) != 6 {
		t.Errorf("compared %v, want all six engines", names)
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

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
