package http1_test

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/weft-server/weft/internal/http1"
)

var benchReq = []byte("GET /assets/app.js?v=3 HTTP/1.1\r\nHost: example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n" +
	"Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n" +
	"Referer: https://example.com/\r\nIf-None-Match: \"abc-123\"\r\nConnection: keep-alive\r\n\r\n")

func BenchmarkParse(b *testing.B) {
	var r http1.Request
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReq)))
	for b.Loop() {
		if _, err := r.Parse(benchReq, http1.DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseNetHTTP is the net/http twin of BenchmarkParse.
func BenchmarkParseNetHTTP(b *testing.B) {
	rd := bytes.NewReader(benchReq)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReq)))
	for b.Loop() {
		rd.Reset(benchReq)
		br.Reset(rd)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHead(b *testing.B) {
	var resp http1.Response
	resp.Status = 200
	resp.Fixed = http1.FieldsOf("Content-Type", "text/html; charset=utf-8", "ETag", `"18eb-400"`, "Last-Modified", "Wed, 25 Nov 2026 19:58:35 GMT", "Accept-Ranges", "bytes")
	resp.Body = make([]byte, 1024)
	date := []byte("Wed, 25 Nov 2026 20:00:00 GMT")
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = http1.AppendHead(buf[:0], &resp, 1, true, date)
	}
}
