package http1_test

import (
	"fmt"
	"testing"

	"github.com/weft-server/weft/internal/http1"
)

// FuzzFields runs random operations on a set of Fields, owned ones and
// views (Slice, Slice of a Slice), and checks after each that every
// index renders back to exactly its text, and that no operation changed
// a view's text or another Fields' (views share storage, never modified
// once shared). Add, Remove and Reset on a view must panic or leave the
// storage it shares alone.
func FuzzFields(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 3, 4, 0, 0, 2, 1, 0, 0})
	f.Add([]byte{0, 1, 0, 2, 0, 3, 4, 0, 0, 2, 2, 1, 1, 0})
	f.Add([]byte{0, 1, 0, 2, 4, 0, 0, 1, 6, 1, 0, 4, 5, 1, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		names := []string{"Vary", "ETag", "vary", "Content-Type", "X-A"}
		set := []*http1.Fields{new(http1.Fields)}
		owned := []bool{true} // false: a view, or an owner whose text a view shares
		shared := []bool{false}
		texts := []string{""}
		at := 0
		next := func() int {
			if at >= len(ops) {
				return 0
			}
			at++
			return int(ops[at-1])
		}
		mustPanicOrKeep := func(op func()) {
			defer func() { recover() }()
			op()
		}
		for step := 0; at < len(ops) && step < 64; step++ {
			code, k := next()%7, next()%len(set)
			g := set[k]
			if shared[k] && code != 2 && code != 3 {
				continue
			}
			desc := fmt.Sprintf("step %d: op %d on #%d", step, code, k)
			switch code {
			case 0: // Add
				name, value := names[next()%len(names)], fmt.Sprint("v", step)
				if owned[k] {
					g.Add(name, value)
				} else {
					mustPanicOrKeep(func() { g.Add(name, value) })
				}
			case 1: // Remove
				name := names[next()%len(names)]
				if owned[k] {
					g.Remove(name)
				} else {
					mustPanicOrKeep(func() { g.Remove(name) })
				}
			case 2: // Slice
				if g.Len() == 0 {
					continue
				}
				i := next() % (g.Len() + 1)
				j := i + next()%(g.Len()-i+1)
				v := g.Slice(i, j)
				// An empty slice is a new, owned Fields.
				set, owned, shared = append(set, &v), append(owned, i == j), append(shared, false)
				texts = append(texts, string(v.Text))
				// The owner of a shared text may not modify it any more
				// (Reset's doc): not checked, so not tried either.
				if owned[k] {
					owned[k], shared[k] = false, true
				}
			case 3: // Clone
				c := g.Clone()
				set, owned, shared = append(set, &c), append(owned, true), append(shared, false)
				texts = append(texts, string(c.Text))
			case 4: // Append
				src := set[next()%len(set)]
				if owned[k] && src != g {
					g.Append(src)
				}
			case 5: // Reset
				if owned[k] {
					g.Reset()
				} else {
					// A reset view lets go of what it shared: it is a new,
					// owned Fields.
					g.Reset()
					g.Add("X-Reset", "after")
					owned[k] = true
				}
			case 6: // AddInt
				if owned[k] {
					g.AddInt(names[next()%len(names)], int64(step))
				}
			}
			for i, h := range set {
				if got := lines(h); got != string(h.Text) {
					t.Fatalf("%s: #%d's index renders %q, its text is %q", desc, i, got, h.Text)
				}
				if i != k && texts[i] != string(h.Text) {
					t.Fatalf("%s: #%d changed: %q, was %q", desc, i, h.Text, texts[i])
				}
				texts[i] = string(h.Text)
			}
		}
	})
}

// TestFieldsViewGuards: a view from the first field on (base 0) is a view
// too, and a reset view no longer writes into the text it shared.
func TestFieldsViewGuards(t *testing.T) {
	f := http1.FieldsOf("Vary", "Accept-Encoding", "ETag", `"x"`, "Cache-Control", "no-cache")
	want := string(f.Text)
	v := f.Slice(0, 2)
	func() {
		defer func() { recover() }()
		v.Remove("vary")
	}()
	if string(f.Text) != want || lines(&f) != want {
		t.Fatalf("Remove on Slice(0, 2) changed its parent: %q", f.Text)
	}
	w := f.Slice(1, 3)
	w.Reset()
	w.Add("X", "y")
	if string(f.Text) != want || lines(&f) != want {
		t.Fatalf("Reset then Add on Slice(1, 3) changed its parent: %q", f.Text)
	}
	if lines(&w) != "X: y\r\n" || string(w.Text) != "X: y\r\n" {
		t.Fatalf("the reset view: %q", w.Text)
	}
}
