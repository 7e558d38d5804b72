package server_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// sentFormat logs what TestAccessLogSentHTTP2And3 checks, one field each.
const sentFormat = `$server_protocol $request_method $request_uri $status $body_bytes_sent $bytes_sent $request_time`

var sentLine = regexp.MustCompile(`(?m)^(\S+) (\S+) (\S+) (\d+) (\d+) (\d+) (\d+\.\d{3})$`)

// sentRecord is a line of sentFormat.
type sentRecord struct {
	proto, method, target string
	status                int
	body, sent            int64
	seconds               float64
}

// waitSent waits for the line of method and target over proto in out.
func waitSent(t *testing.T, out *syncBuffer, proto, method, target string) sentRecord {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, m := range sentLine.FindAllStringSubmatch(out.String(), -1) {
			if m[1] == proto && m[2] == method && m[3] == target {
				r := sentRecord{proto: m[1], method: m[2], target: m[3]}
				r.status, _ = strconv.Atoi(m[4])
				r.body, _ = strconv.ParseInt(m[5], 10, 64)
				r.sent, _ = strconv.ParseInt(m[6], 10, 64)
				r.seconds, _ = strconv.ParseFloat(m[7], 64)
				return r
			}
		}
	}
	t.Fatalf("no %s %s %s in the access log:\n%s", proto, method, target, out.String())
	return sentRecord{}
}

// TestAccessLogSentHTTP2And3: over HTTP/2 and HTTP/3 too, the log tells
// the body bytes written: all of a complete body, 0 for HEAD and 304,
// a zip's real size, and for a client that cancels a 1 GiB download after
// a few MiB, no less than it got and far less than the file.
func TestAccessLogSentHTTP2And3(t *testing.T) {
	root := conformance.Tree(t)
	const huge = 1 << 30
	f, err := os.Create(filepath.Join(root, "huge.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(huge) // sparse
	f.Close()
	certs := conformance.NewCerts(t)
	tcfg := tlsWith(certs)
	tcfg.HTTP3 = true
	format, err := accesslog.ParseFormat(sentFormat)
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	w := startWeft(t, server.Config{
		Site: site.Config{Root: root, Listing: true}, TLS: tcfg,
		AccessLog: true, LogFormat: format, Stdout: &out, FlushEvery: 10 * time.Millisecond,
	})
	for _, tc := range []struct {
		proto string
		rt    http.RoundTripper
	}{{"HTTP/2.0", h2Transport(t, certs)}, {"HTTP/3.0", h3Transport(t, certs)}} {
		t.Run(tc.proto, func(t *testing.T) {
			do := func(method, target string, header ...string) (*http.Response, string) {
				t.Helper()
				// A query of its own marks each request's line.
				target += map[bool]string{true: "&", false: "?"}[strings.Contains(target, "?")] + "p=" + tc.proto[5:6]
				req, _ := http.NewRequest(method, "https://"+w.addr+target, nil)
				for i := 0; i+1 < len(header); i += 2 {
					req.Header.Set(header[i], header[i+1])
				}
				resp, err := tc.rt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Proto != tc.proto {
					t.Fatalf("answered over %s", resp.Proto)
				}
				return resp, target
			}
			full := func(method, target string, header ...string) (int, []byte, sentRecord) {
				t.Helper()
				resp, target := do(method, target, header...)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, body, waitSent(t, &out, tc.proto, method, target)
			}
			for _, p := range []string{"/hello.txt", "/big.bin"} {
				status, body, r := full("GET", p)
				if status != 200 || r.status != 200 || r.body != int64(len(body)) || r.sent != r.body || r.seconds < 0 {
					t.Errorf("GET %s: %d bytes read; logged %+v", p, len(body), r)
				}
			}
			if _, _, r := full("HEAD", "/big.bin"); r.status != 200 || r.body != 0 {
				t.Errorf("HEAD: logged %+v, want 200 and 0 bytes", r)
			}
			resp, _ := do("GET", "/hello.txt?etag")
			resp.Body.Close()
			if status, _, r := full("GET", "/hello.txt?cond", "If-None-Match", resp.Header.Get("ETag")); status != 304 || r.status != 304 || r.body != 0 {
				t.Errorf("conditional GET: %d; logged %+v, want 304 and 0 bytes", status, r)
			}
			status, body, r := full("GET", "/dir/?download=zip")
			if zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body))); err != nil || len(zr.File) == 0 {
				t.Fatalf("zip of %d bytes: %v", len(body), err)
			}
			if status != 200 || r.body != int64(len(body)) {
				t.Errorf("zip of %d bytes: logged %+v", len(body), r)
			}

			// Cancelled after 4 MiB.
			resp, target := do("GET", "/huge.bin")
			got, err := io.CopyN(io.Discard, resp.Body, 4<<20)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			r = waitSent(t, &out, tc.proto, "GET", target)
			if r.status != 200 || r.body < got || r.body >= huge {
				t.Errorf("cancelled download: logged %+v; want 200 and from %d to less than %d bytes", r, got, int64(huge))
			}
			t.Logf("client read %d bytes; %d logged", got, r.body)
		})
	}
}

// TestAccessLogTemplateEveryEngine: a template writes the expected line on
// every in-process engine, and values a client controls are escaped so
// that a hostile request cannot forge a line.
func TestAccessLogTemplateEveryEngine(t *testing.T) {
	root := conformance.Tree(t)
	format, err := accesslog.ParseFormat(`$remote_addr $remote_user "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" ` +
		`rid=$http_x_request_id host=$host proto=$server_protocol t=$request_time [$time_local]`)
	if err != nil {
		t.Fatal(err)
	}
	// What a field value may hold (HTTP/1 refuses control bytes but
	// tab, and line breaks; accesslog's unit tests escape those).
	evil := "x\" 200 1\t[forged] \xff\\"
	esc := `x\x22 200 1\x09[forged] \xFF\x5C`
	for _, eng := range []string{"serial", "thread", "goroutine", "poll", "epoll"} {
		t.Run(eng, func(t *testing.T) {
			var out syncBuffer
			w := startWeft(t, server.Config{Engine: eng, Site: site.Config{Root: root},
				AccessLog: true, LogFormat: format, Stdout: &out, FlushEvery: 10 * time.Millisecond})
			send := func(raw string) {
				t.Helper()
				c, err := net.Dial("tcp", w.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				io.WriteString(c, raw)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadAll(bufio.NewReader(c)); err != nil {
					t.Fatal(err)
				}
			}
			send("GET /hello.txt?a=1 HTTP/1.1\r\nHost: example.org\r\nReferer: https://r.example/\r\nUser-Agent: curl/8\r\n" +
				"X-Request-Id: abc-1\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\nConnection: close\r\n\r\n")
			send("GET /x%22y HTTP/1.1\r\nHost: evil\r\nReferer: " + evil + "\r\nUser-Agent: " + evil + "\r\nX-Request-Id: " + evil + "\r\nConnection: close\r\n\r\n")
			want := []*regexp.Regexp{
				regexp.MustCompile(`^127\.0\.0\.1 alice "GET /hello\.txt\?a=1 HTTP/1\.1" 200 13 "https://r\.example/" "curl/8" rid=abc-1 host=example\.org proto=HTTP/1\.1 t=\d+\.\d{3} \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]$`),
				regexp.MustCompile(`^127\.0\.0\.1 - "GET /x%22y HTTP/1\.1" 404 \d+ "` + regexp.QuoteMeta(esc) + `" "` + regexp.QuoteMeta(esc) + `" rid=` + regexp.QuoteMeta(esc) + ` host=evil proto=HTTP/1\.1 t=\d+\.\d{3} \[[^]]+\]$`),
			}
			var lines []string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if lines = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); len(lines) >= len(want) {
					break
				}
			}
			if len(lines) != len(want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
			}
			for i, re := range want {
				if !re.MatchString(lines[i]) {
					t.Errorf("line %d:\n%s\ndoes not match\n%s", i+1, lines[i], re)
				}
			}
		})
	}
}
