package http1_test

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/http1"
)

var lim = http1.DefaultLimits

func TestParse(t *testing.T) {
	cases := []struct {
		name   string
		raw    string
		status int // 0: parses
		check  func(t *testing.T, r *http1.Request)
	}{
		{"Simple", "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if r.Method != http1.MethodGet || string(r.Path) != "/a" || string(r.Query) != "b=c" || string(r.Host) != "x" || !r.KeepAlive {
				t.Errorf("%+v", r)
			}
		}},
		{"EmptyQuery", "GET /a? HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if r.Query == nil || len(r.Query) != 0 {
				t.Errorf("query %q (nil %v)", r.Query, r.Query == nil)
			}
		}},
		{"HeaderCaseAndOWS", "GET / HTTP/1.1\r\nhOsT:   x  \r\nIF-NONE-MATCH:\t\"a\"\t\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if string(r.Host) != "x" || string(r.IfNoneMatch) != `"a"` {
				t.Errorf("host %q inm %q", r.Host, r.IfNoneMatch)
			}
		}},
		{"OriginAndExpect", "GET / HTTP/1.1\r\nHost: x\r\nORIGIN: https://a.example\r\nExpect: 100-continue\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if string(r.Origin) != "https://a.example" || string(r.Expect) != "100-continue" || r.Remote.IsValid() || r.TLS {
				t.Errorf("origin %q expect %q remote %v tls %v", r.Origin, r.Expect, r.Remote, r.TLS)
			}
		}},
		{"HTTP10Default", "GET / HTTP/1.0\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if r.KeepAlive {
				t.Error("1.0 kept alive without asking")
			}
		}},
		{"HTTP10KeepAlive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if !r.KeepAlive {
				t.Error("keep-alive ignored")
			}
		}},
		{"Close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if r.KeepAlive {
				t.Error("close ignored")
			}
		}},
		{"AbsoluteForm", "GET HTTP://Example.com:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if string(r.Host) != "Example.com:81" || string(r.Path) != "/p" || string(r.Query) != "q" {
				t.Errorf("host %q path %q query %q", r.Host, r.Path, r.Query)
			}
		}},
		{"ContentLength", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if r.ContentLength != 7 {
				t.Errorf("CL %d", r.ContentLength)
			}
		}},
		{"NoContentLength", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if r.ContentLength != -1 || r.HasBody() {
				t.Errorf("CL %d", r.ContentLength)
			}
		}},
		{"Chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if !r.Chunked {
				t.Error("chunked not seen")
			}
		}},
		{"Other method", "PURGE / HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, r *http1.Request) {
			if r.Method != http1.MethodOther || string(r.MethodName) != "PURGE" {
				t.Errorf("%v %q", r.Method, r.MethodName)
			}
		}},
		{"HTTP2", "GET / HTTP/2.0\r\n\r\n", 505, nil},
		{"URITooLong", "GET /" + strings.Repeat("a", lim.MaxURI) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, nil},
		{"NoHost", "GET / HTTP/1.1\r\n\r\n", 400, nil},
		// RFC 9112 §3.2: a fragment is not part of a request-target.
		{"Fragment", "GET /x#frag HTTP/1.1\r\nHost: x\r\n\r\n", 400, nil},
		{"FragmentInQuery", "GET /x?a=b#frag HTTP/1.1\r\nHost: x\r\n\r\n", 400, nil},
		{"ObsFold", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", 400, nil},
		{"SpaceColon", "GET / HTTP/1.1\r\nHost: x\r\nA : b\r\n\r\n", 400, nil},
		{"TEandCL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nil},
		{"TEnotChunkedLast", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, nil},
		{"CLMismatch", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 01\r\n\r\n", 0, nil},
		{"CLDiffer", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, nil},
		{"CLEmpty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400, nil},
		{"TooManyFields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("A: b\r\n", lim.MaxHeaderCount) + "\r\n", 431, nil},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: x\r\nA: \x7f\r\n\r\n", 400, nil},
		{"ObsTextValue", "GET / HTTP/1.1\r\nHost: x\r\nA: caf\xc3\xa9\r\n\r\n", 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r http1.Request
			n, err := r.Parse([]byte(tc.raw+"NEXT"), lim)
			if n != len(tc.raw) {
				t.Errorf("consumed %d bytes, want %d", n, len(tc.raw))
			}
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if tc.check != nil {
					tc.check(t, &r)
				}
				return
			}
			if err == nil {
				t.Fatalf("parsed, want status %d", tc.status)
			}
			if got := http1.StatusOf(err); got != tc.status {
				t.Fatalf("status %d (%v), want %d", got, err, tc.status)
			}
		})
	}
}

func TestHeadLengthIncremental(t *testing.T) {
	raw := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for cut := 0; cut < len(raw); cut++ {
		if n := http1.HeadLength([]byte(raw[:cut]), cut-1); n != -1 {
			t.Fatalf("prefix of %d bytes: HeadLength %d, want -1", cut, n)
		}
	}
	// Scanning from every earlier point finds the same end.
	for from := 0; from <= len(raw); from++ {
		if n := http1.HeadLength([]byte(raw), from); n != len(raw) {
			t.Fatalf("from %d: %d, want %d", from, n, len(raw))
		}
	}
	if n := http1.HeadLength([]byte("GET / HTTP/1.0\n\nX"), 0); n != 16 {
		t.Fatalf("LF-only head: %d", n)
	}
}

func TestAppendHead(t *testing.T) {
	var resp http1.Response
	resp.Status = 200
	resp.AddHeader("Content-Type", "text/plain")
	resp.Body = []byte("hi")
	head := http1.AppendHead(nil, &resp, 1, true, []byte("Wed, 25 Nov 2026 20:00:00 GMT"))
	want := "HTTP/1.1 200 OK\r\nServer: weft\r\nDate: Wed, 25 Nov 2026 20:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n"
	if string(head) != want {
		t.Fatalf("got\n%q\nwant\n%q", head, want)
	}
	// Go's parser reads what weft writes.
	hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(head, "hi"...))), nil)
	if err != nil || hr.StatusCode != 200 || hr.ContentLength != 2 {
		t.Fatalf("net/http reads it as %v, %v", hr, err)
	}
	resp.Status = 304
	if h := http1.AppendHead(nil, &resp, 0, true, []byte("d")); bytes.Contains(h, []byte("Content-Length")) ||
		!bytes.Contains(h, []byte("Connection: keep-alive\r\n")) {
		t.Fatalf("304 for a 1.0 keep-alive client:\n%s", h)
	}
}

// TestOversizeSameWhateverArrived: a head over MaxHeadBytes is 414 when
// its request line alone fills the limit and 431 otherwise, whether the
// server noticed with the limit's worth buffered (OversizeStatus) or with
// the whole head at hand (ParseHead); found by FuzzConn.
func TestOversizeSameWhateverArrived(t *testing.T) {
	l := http1.Limits{MaxURI: 512, MaxHeadBytes: 1024, MaxHeaderCount: 10}
	for _, tc := range []struct {
		name, head string
		status     int
	}{
		{"LongLine", "GET /" + strings.Repeat("a", 1100) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"LongGarbageLine", strings.Repeat("0", 1100) + "\n\n", 414},
		{"LongField", "GET / HTTP/1.1\r\nX: " + strings.Repeat("b", 1100) + "\r\n\r\n", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s := http1.OversizeStatus([]byte(tc.head[:1024]), l); s != tc.status {
				t.Errorf("noticed at the limit: %d, want %d", s, tc.status)
			}
			if s := http1.OversizeStatus([]byte(tc.head), l); s != tc.status {
				t.Errorf("noticed past the limit: %d, want %d", s, tc.status)
			}
			var r http1.Request
			if err := r.ParseHead([]byte(tc.head), l); http1.StatusOf(err) != tc.status {
				t.Errorf("whole head parsed: %v, want %d", err, tc.status)
			}
		})
	}
}

// TestAddFieldAsParseHead: a field added by AddField (HTTP/2, HTTP/3) is
// noted as the same field in a head: its value without the whitespace
// around it.
func TestAddFieldAsParseHead(t *testing.T) {
	var head, added http1.Request
	raw := "GET / HTTP/1.1\r\nHost: x\r\nIf-Modified-Since:  Fri, 01 Jan 2100 00:00:00 GMT \t\r\nRange: bytes=0-1\t\r\n\r\n"
	if err := head.ParseHead([]byte(raw), lim); err != nil {
		t.Fatal(err)
	}
	if err := added.SetTarget([]byte("GET"), []byte("/"), 2); err != nil {
		t.Fatal(err)
	}
	for _, f := range [][2]string{{"If-Modified-Since", "  Fri, 01 Jan 2100 00:00:00 GMT \t"}, {"Range", "bytes=0-1\t"}} {
		if err := added.AddField([]byte(f[0]), []byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if string(added.IfModifiedSince) != string(head.IfModifiedSince) || string(added.Range) != string(head.Range) {
		t.Errorf("AddField: If-Modified-Since %q, Range %q; ParseHead: %q, %q",
			added.IfModifiedSince, added.Range, head.IfModifiedSince, head.Range)
	}
}
