package httpadapt_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/httpadapt"
)

type okHandler struct{}

func (okHandler) ServeHTTP1(_ *http1.Request, resp *http1.Response) { resp.Status = 200 }

// TestLimitsAsHTTP1: a request over HTTP/2 or HTTP/3 is refused for the
// size of its head exactly where http1.Request.ParseHead refuses the same
// head sent over HTTP/1.1, and with the same status.
func TestLimitsAsHTTP1(t *testing.T) {
	lim := http1.Limits{MaxURI: 100, MaxHeadBytes: 300, MaxHeaderCount: 5}
	h := httpadapt.New(okHandler{}, httpadapt.Options{Limits: lim, MaxBodyBytes: 1 << 20})
	type tc struct {
		target string
		fields []string
	}
	var cases []tc
	for n := 95; n <= 105; n++ {
		cases = append(cases, tc{target: "/" + strings.Repeat("a", n-1)})
	}
	for n := 0; n <= 6; n++ {
		var f []string
		for i := range n {
			f = append(f, fmt.Sprintf("X-F%d: v", i))
		}
		cases = append(cases, tc{target: "/", fields: f})
	}
	for n := 180; n <= 200; n++ { // around MaxHeadBytes
		cases = append(cases, tc{target: "/x", fields: []string{"X-Long: " + strings.Repeat("v", n)}})
	}
	cases = append(cases, tc{target: "/" + strings.Repeat("a", 400)})
	seen := map[int]bool{}
	for _, c := range cases {
		raw := "GET " + c.target + " HTTP/1.1\r\nHost: example.com\r\n"
		for _, f := range c.fields {
			raw += f + "\r\n"
		}
		raw += "\r\n"
		want := 200
		var req http1.Request
		if err := req.ParseHead([]byte(raw), lim); err != nil {
			want = http1.StatusOf(err)
		}
		r := httptest.NewRequest("GET", c.target, nil)
		for _, f := range c.fields {
			name, value, _ := strings.Cut(f, ": ")
			r.Header.Add(name, value)
		}
		seen[want] = true
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("head of %d bytes, target of %d, %d fields: %d, want %d as over HTTP/1.1",
				len(raw), len(c.target), len(c.fields)+1, w.Code, want)
		}
	}
	if !seen[200] || !seen[414] || !seen[431] {
		t.Errorf("cases met %v; want 200, 414 and 431 each", seen)
	}
}

// TestBadFieldNotForgotten: a field value AddField refuses gets 400 (as
// over HTTP/1.1) whatever field the map's order puts after it. Go's and
// quic-go's servers refuse such values first; a handler called otherwise
// (tests, another front) must not serve the request.
func TestBadFieldNotForgotten(t *testing.T) {
	h := httpadapt.New(okHandler{}, httpadapt.Options{MaxBodyBytes: 1 << 20})
	for range 20 {
		r := httptest.NewRequest("GET", "/", nil)
		for i := range 20 {
			r.Header.Set(fmt.Sprintf("X-F%d", i), "v")
		}
		r.Header["X-Bad"] = []string{"a\x01b"}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 400 {
			t.Fatalf("a field with a control byte: %d, want 400", w.Code)
		}
	}
}
