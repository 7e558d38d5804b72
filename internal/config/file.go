package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// fileType is the struct a configuration file decodes into: one pointer
// field per key (nil when the file does not set it), tagged with the
// key's name, so that go-toml's strict mode knows every key and reports
// any other with its position.
var fileType = sync.OnceValue(func() reflect.Type {
	fields := make([]reflect.StructField, len(Keys))
	for i := range Keys {
		k := &Keys[i]
		fields[i] = reflect.StructField{
			Name: "K" + strconv.Itoa(i),
			Type: kindOf(k.field(&Config{})).file,
			Tag:  reflect.StructTag(`toml:"` + k.Name + `"`),
		}
	}
	return reflect.StructOf(fields)
})

// loadFile sets the keys the file name, holding data, sets.
func (c *Config) loadFile(name string, data []byte) []error {
	at := func(line int, key, msg string) error {
		return &Error{Source: Source{Kind: FromFile, Name: name, Line: line}, Key: key, Msg: msg}
	}
	v := reflect.New(fileType())
	d := toml.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v.Interface()); err != nil {
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case errors.As(err, &strict):
			var errs []error
			for i := range strict.Errors {
				e := &strict.Errors[i]
				line, _ := e.Position()
				errs = append(errs, at(line, "", unknownKey(e)))
			}
			return errs
		case errors.As(err, &de):
			line, _ := de.Position()
			key := strings.Join(de.Key(), ".")
			return []error{at(line, key, decodeMessage(de))}
		}
		return []error{at(0, "", err.Error())}
	}
	lines := keyLines(data)
	c.File = name
	var errs []error
	for i := range Keys {
		k := &Keys[i]
		fv := v.Elem().Field(i)
		if fv.IsNil() {
			continue
		}
		f := k.field(c)
		val, err := fromFile(f, fv, k.Name)
		if err != nil {
			path := k.Name
			if pe, ok := err.(*partError); ok && lines[pe.path] > 0 {
				path = pe.path
			}
			errs = append(errs, at(lines[path], path, err.Error()))
			continue
		}
		if s, ok := val.(string); ok && k.Path && s != "" && s != "-" && !filepath.IsAbs(s) {
			val = filepath.Join(filepath.Dir(name), s)
		}
		set(f, val)
		c.sources[k.Name] = Source{Kind: FromFile, Name: name, Line: lines[k.Name]}
	}
	return errs
}

// unknownKey describes a key of the file that no Key has.
func unknownKey(e *toml.DecodeError) string {
	key := strings.Join(e.Key(), ".")
	what := "key"
	if strings.Contains(e.Error(), "missing table") {
		what = "table"
	}
	msg := fmt.Sprintf("unknown %s %q", what, key)
	if len(e.Key()) == 1 {
		names := make([]string, len(Keys))
		for i := range Keys {
			names[i] = Keys[i].Name
		}
		if guess := closest(strings.ReplaceAll(key, "-", "_"), names, 0); guess != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", guess)
		}
	}
	return msg
}

var (
	decodeTOML  = regexp.MustCompile(`cannot decode TOML (\w+) into`)
	structField = regexp.MustCompile(`struct field \S+ of type `)
)

// decodeMessage words go-toml's decoding error for a person: a wrong type
// of one of our keys says what the key wants.
func decodeMessage(de *toml.DecodeError) string {
	msg := tomlMessage(de)
	got := decodeTOML.FindStringSubmatch(msg)
	if got == nil {
		return msg
	}
	if k := Lookup(strings.Join(de.Key(), ".")); k != nil {
		want := article(k.Type())
		if kindOf(k.field(&Config{})) == kDuration {
			want = `a duration string such as "30s"`
		}
		return fmt.Sprintf("want %s, got %s", want, article(got[1]))
	}
	if k := Lookup(de.Key()[0]); k != nil && len(de.Key()) == 2 {
		// An entry of one of our tables (mime): strings only.
		return fmt.Sprintf("want a string, got %s", article(got[1]))
	}
	return structField.ReplaceAllString(msg, "")
}

// tomlMessage is a go-toml error's message without its package prefix.
func tomlMessage(err error) string { return strings.TrimPrefix(err.Error(), "toml: ") }

func article(what string) string {
	if strings.IndexByte("aeiou", what[0]) >= 0 {
		return "an " + what
	}
	return "a " + what
}

// keyLines maps the dotted path of every key and table the document
// defines to the line where it is first defined; array elements are
// "key[i]", elements of an array of tables "key[i]" too. data must parse.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	lineOf := func(n *unstable.Node) int { return p.Shape(n.Raw).Start.Line }
	note := func(path string, line int) {
		if _, ok := lines[path]; !ok {
			lines[path] = line
		}
	}
	var table []string
	arrays := map[string]int{} // elements seen per array of tables
	for p.NextExpression() {
		e := p.Expression()
		var parts []string
		line := 0
		for it := e.Key(); it.Next(); {
			n := it.Node()
			if line == 0 {
				line = lineOf(n)
			}
			parts = append(parts, string(n.Data))
		}
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = parts
			for i := range parts {
				note(strings.Join(parts[:i+1], "."), line)
			}
			if e.Kind == unstable.ArrayTable {
				path := strings.Join(parts, ".")
				table = []string{path + "[" + strconv.Itoa(arrays[path]) + "]"}
				arrays[path]++
				note(table[0], line)
			}
		case unstable.KeyValue:
			full := append(append([]string{}, table...), parts...)
			for i := len(table); i < len(full); i++ {
				note(strings.Join(full[:i+1], "."), line)
			}
			if v := e.Value(); v.Kind == unstable.Array {
				path := strings.Join(full, ".")
				i := 0
				for it := v.Children(); it.Next(); i++ {
					note(path+"["+strconv.Itoa(i)+"]", lineOf(it.Node()))
				}
			}
		}
	}
	return lines
}
