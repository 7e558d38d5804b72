//go:build linux

package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestModuleJS: lib.js is the same bytes on every machine (the README's
// sizes are of these), fills its size to within one function, is
// balanced JavaScript-looking text, and compresses like unminified
// application code (Go's wasm_exec.js: 3.9× with gzip 9; rustdoc's
// search.js: 4.3×), not like a repeated line.
func TestModuleJS(t *testing.T) {
	js := moduleJS(jsSize)
	if !bytes.Equal(js, moduleJS(jsSize)) {
		t.Fatal("moduleJS is not deterministic")
	}
	if got, want := fmt.Sprintf("%d %x", len(js), sha256.Sum256(js)), "102054 5aa74132c1b861c7"; !strings.HasPrefix(got, want) {
		t.Errorf("moduleJS(%d) = %s…, want %s…: the README's compressed sizes are of the old bytes", jsSize, got, want)
	}
	if len(js) > jsSize || len(js) < jsSize-2<<10 {
		t.Errorf("moduleJS(%d) is %d bytes", jsSize, len(js))
	}
	s := string(js)
	if strings.Count(s, "{") != strings.Count(s, "}") || strings.Count(s, "(") != strings.Count(s, ")") || !strings.HasSuffix(s, "}\n\n") {
		t.Errorf("moduleJS has unbalanced brackets or a cut function")
	}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write(js)
	w.Close()
	if r := float64(len(js)) / float64(z.Len()); r < 3.5 || r > 5 {
		t.Errorf("moduleJS compresses %.2f× with gzip 9, want 3.5–5×", r)
	}
}

// TestCheckCoding: the check waits out identity answers (weft's variant
// being built), then accepts only the wanted coding of the very file.
func TestCheckCoding(t *testing.T) {
	plain := moduleJS(4 << 10)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(plain)
	w.Close()
	answer := func(identityFirst int, encoded []byte) string {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if int(n.Add(1)) <= identityFirst || !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				rw.Write(plain)
				return
			}
			rw.Header().Set("Content-Encoding", "gzip")
			rw.Write(encoded)
		}))
		defer srv.Close()
		size, err := checkCoding(srv.URL, server{accept: "gzip", coding: "gzip", plain: plain}, time.Second)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(size)
	}
	if got, want := answer(3, gz.Bytes()), fmt.Sprint(gz.Len()); got != want {
		t.Errorf("gzip after 3 identity answers: %s, want %s", got, want)
	}
	if got := answer(1000, gz.Bytes()); !strings.Contains(got, `got 200 OK with Content-Encoding ""`) {
		t.Errorf("identity only: %s, want an error", got)
	}
	var other bytes.Buffer
	w = gzip.NewWriter(&other)
	w.Write(plain[1:])
	w.Close()
	if got := answer(0, other.Bytes()); !strings.Contains(got, "not the file's") {
		t.Errorf("gzip of other bytes: %s, want an error", got)
	}
}
