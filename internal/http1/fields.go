package http1

import (
	"bytes"
	"strconv"
)

// Fields is a header section kept for every protocol at once: as HTTP/1
// text ("Name: value\r\n" lines, which an HTTP/1 engine writes as they
// are) and as the place of each field's name and value in that text, so
// that an HTTP/2 or HTTP/3 front reads the fields without parsing text.
//
// A Fields may be a view of part of another (see Slice): both then share
// the text and the index, which are never modified once shared.
type Fields struct {
	Text  []byte
	spans []span
	base  int  // offset of Text[0] in the text the spans index
	view  bool // made by Slice: shares its text and index (base may be 0)
}

// span is one field: its line starts at start, the colon that ends its
// name is at colon, the CR that ends its value at end (offsets in the text
// the index was built over, see Fields.base).
type span struct{ start, colon, end int32 }

// Len is the number of fields.
func (f *Fields) Len() int { return len(f.spans) }

// Field returns the name and value of the i-th field, views of f.Text.
func (f *Fields) Field(i int) (name, value []byte) {
	s := f.spans[i]
	b := f.base
	return f.Text[int(s.start)-b : int(s.colon)-b], f.Text[int(s.colon)-b+2 : int(s.end)-b]
}

// Slice returns the view of fields [i, j) of f, sharing its storage.
func (f *Fields) Slice(i, j int) Fields {
	if i == j {
		return Fields{}
	}
	b := f.base
	from, to := int(f.spans[i].start)-b, int(f.spans[j-1].end)-b+2
	return Fields{Text: f.Text[from:to:to], spans: f.spans[i:j:j], base: b + from, view: true}
}

// Reset empties f, keeping its storage. Only an owned Fields (not a view
// or a shared one) may be reset and added to; a view is emptied and lets
// go of the storage it shares, so that later Adds cannot write into it.
func (f *Fields) Reset() {
	if f.view {
		*f = Fields{}
		return
	}
	f.Text, f.spans, f.base = f.Text[:0], f.spans[:0], 0
}

// Add appends a field. name and value must be valid field syntax
// (RFC 9110 §5): handlers never copy request bytes here unchecked.
func (f *Fields) Add(name, value string) {
	start := f.open(name)
	f.Text = append(f.Text, value...)
	f.close(start, len(name))
}

// AddBytes is Add for a byte-slice value.
func (f *Fields) AddBytes(name string, value []byte) {
	start := f.open(name)
	f.Text = append(f.Text, value...)
	f.close(start, len(name))
}

// AddInt appends a field with a decimal value.
func (f *Fields) AddInt(name string, v int64) {
	start := f.open(name)
	f.Text = strconv.AppendInt(f.Text, v, 10)
	f.close(start, len(name))
}

// AddJoined appends a field whose value is the concatenation of parts,
// for a value built from pieces (a Location of path and query).
func (f *Fields) AddJoined(name string, parts ...[]byte) {
	start := f.open(name)
	for _, p := range parts {
		f.Text = append(f.Text, p...)
	}
	f.close(start, len(name))
}

func (f *Fields) open(name string) int {
	if f.view {
		panic("http1: Add to a view of Fields")
	}
	start := len(f.Text)
	f.Text = append(f.Text, name...)
	f.Text = append(f.Text, ": "...)
	return start
}

func (f *Fields) close(start, nameLen int) {
	f.spans = append(f.spans, span{int32(start), int32(start + nameLen), int32(len(f.Text))})
	f.Text = append(f.Text, "\r\n"...)
}

// Append appends every field of g to f.
func (f *Fields) Append(g *Fields) {
	for i := range g.spans {
		name, value := g.Field(i)
		start := f.open(string(name)) // no allocation: the conversion does not escape
		f.Text = append(f.Text, value...)
		f.close(start, len(name))
	}
}

// Remove drops, in place, the fields named name (compared without case).
func (f *Fields) Remove(name string) {
	if f.view {
		panic("http1: Remove from a view of Fields")
	}
	var w int32
	k := 0
	for _, s := range f.spans {
		if foldEqual(f.Text[s.start:s.colon], name) {
			continue
		}
		copy(f.Text[w:], f.Text[s.start:s.end+2])
		f.spans[k] = span{w, w + s.colon - s.start, w + s.end - s.start}
		w += s.end + 2 - s.start
		k++
	}
	f.Text, f.spans = f.Text[:w], f.spans[:k]
}

// Get returns the value of the first field named name (without case), or
// nil.
func (f *Fields) Get(name string) []byte {
	for i := range f.spans {
		if n, v := f.Field(i); foldEqual(n, name) {
			return v
		}
	}
	return nil
}

// Clone returns an owned copy of f.
func (f *Fields) Clone() Fields {
	g := Fields{Text: bytes.Clone(f.Text), spans: make([]span, len(f.spans))}
	for i, s := range f.spans {
		g.spans[i] = span{s.start - int32(f.base), s.colon - int32(f.base), s.end - int32(f.base)}
	}
	return g
}

// FieldsOf returns the owned Fields of the name, value pairs kv.
func FieldsOf(kv ...string) Fields {
	var f Fields
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// foldEqual reports whether b and s are equal ignoring ASCII case.
func foldEqual(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
