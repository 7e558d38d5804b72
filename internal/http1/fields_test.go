package http1_test

import (
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/http1"
)

// lines renders f's index as HTTP/1 lines: it must give back f.Text.
func lines(f *http1.Fields) string {
	var b strings.Builder
	for i := range f.Len() {
		n, v := f.Field(i)
		b.WriteString(string(n) + ": " + string(v) + "\r\n")
	}
	return b.String()
}

func TestFieldsIndexMatchesText(t *testing.T) {
	f := http1.FieldsOf("Content-Type", "text/html", "Vary", "Accept-Encoding", "ETag", `"x"`)
	f.AddInt("Content-Length", 42)
	f.AddJoined("Location", []byte("/a"), []byte("?"), []byte("q=1"))
	want := "Content-Type: text/html\r\nVary: Accept-Encoding\r\nETag: \"x\"\r\nContent-Length: 42\r\nLocation: /a?q=1\r\n"
	if string(f.Text) != want || lines(&f) != want {
		t.Fatalf("text %q, index %q, want %q", f.Text, lines(&f), want)
	}
	c := f.Clone()
	for _, r := range [][2]int{{0, 5}, {1, 3}, {2, 5}, {4, 5}, {3, 3}} {
		v := c.Slice(r[0], r[1])
		if got := lines(&v); got != string(v.Text) {
			t.Errorf("Slice%v: index %q, text %q", r, got, v.Text)
		}
		if v.Len() != r[1]-r[0] {
			t.Errorf("Slice%v: %d fields", r, v.Len())
		}
		// a view of a view
		if v.Len() >= 2 {
			w := v.Slice(1, v.Len())
			if lines(&w) != string(w.Text) {
				t.Errorf("Slice%v.Slice: index %q, text %q", r, lines(&w), w.Text)
			}
		}
	}
	if got := string(c.Get("vary")); got != "Accept-Encoding" {
		t.Errorf("Get(vary) = %q", got)
	}
	f.Remove("VARY")
	f.Remove("location")
	want = "Content-Type: text/html\r\nETag: \"x\"\r\nContent-Length: 42\r\n"
	if string(f.Text) != want || lines(&f) != want {
		t.Fatalf("after Remove: text %q, index %q", f.Text, lines(&f))
	}
	f.Add("X-After", "1")
	if lines(&f) != string(f.Text) {
		t.Fatalf("Add after Remove: index %q, text %q", lines(&f), f.Text)
	}
	var g http1.Fields
	g.Append(&c)
	if string(g.Text) != string(c.Text) || lines(&g) != string(g.Text) {
		t.Fatalf("Append: %q", g.Text)
	}
}

func TestFieldsAddAllocatesNothingOnceGrown(t *testing.T) {
	var f http1.Fields
	val := []byte("v")
	n := testing.AllocsPerRun(100, func() {
		f.Reset()
		f.Add("A", "b")
		f.AddBytes("C", val)
		f.AddInt("D", 7)
		f.Remove("c")
	})
	if n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}
