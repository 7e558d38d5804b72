package http1_test

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/weft-server/weft/internal/http1"
)

// FuzzParse checks that the parser never panics, never reads past the
// head it reports, and never accepts a request that net/http's stricter
// framing rules would read differently (method, target, version, Host).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a?b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n a\r\n\r\n",
		"\r\nGET / HTTP/1.1\nHost: x\n\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r http1.Request
		n, err := r.Parse(b, http1.DefaultLimits)
		if n < 0 || n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if err != nil {
			if err != http1.ErrIncomplete {
				if s := http1.StatusOf(err); s < 400 || s > 505 {
					t.Fatalf("status %d for %v", s, err)
				}
			}
			return
		}
		if r.Method == http1.MethodOther || r.Method == http1.MethodConnect || r.Path[0] != '/' {
			return
		}
		hr, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if herr != nil {
			return // net/http is stricter about some things; that is fine
		}
		// weft answers HTTP/1.x with x > 1 as 1.1 (RFC 9110 §6.2).
		if hr.Method != string(r.MethodName) || min(hr.ProtoMinor, 1) != r.Minor {
			t.Fatalf("weft %s 1.%d, net/http %s 1.%d", r.MethodName, r.Minor, hr.Method, hr.ProtoMinor)
		}
		if r.Chunked != (len(hr.TransferEncoding) > 0) {
			t.Fatalf("chunked: weft %v, net/http %v", r.Chunked, hr.TransferEncoding)
		}
		if !r.Chunked && r.ContentLength > 0 && hr.ContentLength != r.ContentLength {
			t.Fatalf("Content-Length: weft %d, net/http %d", r.ContentLength, hr.ContentLength)
		}
	})
}
