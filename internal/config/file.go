package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/weft-server/weft/internal/s3conn"
	"github.com/weft-server/weft/internal/site"
)

// fileType is the struct a configuration file decodes into: one pointer
// field per key (nil when the file does not set it), tagged with the
// key's name, and the [[site]] tables (siteType), so that go-toml's strict
// mode knows every key and reports any other with its position.
var fileType = sync.OnceValue(func() reflect.Type {
	fields := keyFields(Keys)
	fields = append(fields, reflect.StructField{Name: "Sites", Type: reflect.PointerTo(reflect.SliceOf(siteType())), Tag: `toml:"site"`})
	return reflect.StructOf(fields)
})

// siteType is a [[site]] table: hosts, default, then a field per key of
// SiteKeys.
var siteType = sync.OnceValue(func() reflect.Type {
	var keys []Key
	for _, k := range SiteKeys() {
		keys = append(keys, *k)
	}
	fields := append([]reflect.StructField{
		{Name: "Hosts", Type: reflect.TypeFor[*[]string](), Tag: `toml:"hosts"`},
		{Name: "Default", Type: reflect.TypeFor[*bool](), Tag: `toml:"default"`},
	}, keyFields(keys)...)
	return reflect.StructOf(fields)
})

// siteFields is the number of fields of siteType before its keys'.
const siteFields = 2

func keyFields(keys []Key) []reflect.StructField {
	fields := make([]reflect.StructField, len(keys))
	for i := range keys {
		k := &keys[i]
		fields[i] = reflect.StructField{
			Name: "K" + strconv.Itoa(i),
			Type: kindOf(k.field(&Config{})).file,
			Tag:  reflect.StructTag(`toml:"` + k.Name + `"`),
		}
	}
	return fields
}

// loadFile sets the keys the file name, holding data, sets, and its
// virtual hosts.
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
			lines := keyLines(data)
			var errs []error
			for i := range strict.Errors {
				e := &strict.Errors[i]
				line, _ := e.Position()
				errs = append(errs, at(line, "", unknownKey(e, standsAt(lines, strings.Join(e.Key(), "."), line))))
			}
			return errs
		case errors.As(err, &de):
			line, _ := de.Position()
			key := strings.Join(de.Key(), ".")
			return []error{at(line, key, decodeMessage(de))}
		}
		return []error{at(0, "", tomlMessage(err))}
	}
	c.File, c.lines = name, keyLines(data)
	if errs := miscased(c.lines); len(errs) > 0 {
		for i := range errs {
			errs[i].(*Error).Source.Name = name
		}
		return errs
	}
	var keys []*Key
	for i := range Keys {
		keys = append(keys, &Keys[i])
	}
	errs := c.setFromFile(v.Elem(), 0, keys, "")
	sites := v.Elem().Field(len(Keys))
	if sites.IsNil() {
		return errs
	}
	for i := range sites.Elem().Len() {
		sv := sites.Elem().Index(i)
		prefix := "site[" + strconv.Itoa(i) + "]"
		h := Host{Line: c.lines[prefix], keys: Defaults()}
		h.keys.File, h.keys.lines = name, c.lines
		if f := sv.Field(0); !f.IsNil() {
			h.Hosts = f.Elem().Interface().([]string)
		}
		if f := sv.Field(1); !f.IsNil() {
			h.Default = f.Elem().Bool()
		}
		errs = append(errs, h.keys.setFromFile(sv, siteFields, SiteKeys(), prefix+".")...)
		c.Sites = append(c.Sites, h)
	}
	return errs
}

// setFromFile sets the keys from the fields of fv (a fileType or
// siteType), the first of which is fv.Field(offset); prefix is the
// path of fv's table in the file ("" or "site[1].").
func (c *Config) setFromFile(fv reflect.Value, offset int, keys []*Key, prefix string) []error {
	var errs []error
	for i, k := range keys {
		f := fv.Field(offset + i)
		if f.IsNil() {
			continue
		}
		field := k.field(c)
		val, err := fromFile(field, f, k.Name)
		if err != nil {
			path := prefix + k.Name
			if pe, ok := err.(*partError); ok && c.lines[prefix+pe.path] > 0 {
				path = prefix + pe.path
			}
			errs = append(errs, &Error{Source: Source{Kind: FromFile, Name: c.File, Line: c.lines[path]}, Key: path, Msg: err.Error()})
			continue
		}
		if k.Path {
			val = relativeTo(filepath.Dir(c.File), val)
		}
		val = relativeAuth(filepath.Dir(c.File), val)
		set(field, val)
		c.sources[k.Name] = Source{Kind: FromFile, Name: c.File, Line: c.lines[prefix+k.Name]}
	}
	return errs
}

// relativeTo resolves a path of the file relative to its folder dir; "",
// "-" (standard output) and absolute paths stay as they are.
func relativeTo(dir string, v any) any {
	if list, ok := v.([]string); ok {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = relativeTo(dir, s).(string)
		}
		return out
	}
	if s, ok := v.(string); ok && s != "" && s != "-" && !filepath.IsAbs(s) && !s3conn.IsURL(s) {
		return filepath.Join(dir, s)
	}
	return v
}

// relativeAuth resolves the htpasswd files of auth rules relative to dir.
func relativeAuth(dir string, v any) any {
	rules, ok := v.([]site.AuthRule)
	if !ok {
		return v
	}
	for i := range rules {
		rules[i].Htpasswd = relativeTo(dir, rules[i].Htpasswd).(string)
	}
	return rules
}

// unknownKey describes a key of the file that no Key has, with the name
// it is likely a typo of when there is one. tabled says the key stands
// where keyLines saw it (not inside an inline table, whose keys go-toml
// reports without their table), so that its siblings are known.
func unknownKey(e *toml.DecodeError, tabled bool) string {
	key := strings.Join(e.Key(), ".")
	what := "key"
	if strings.Contains(e.Error(), "missing table") {
		what = "table"
	}
	msg := fmt.Sprintf("unknown %s %q", what, key)
	if !tabled && len(e.Key()) > 1 {
		return msg
	}
	parent := typeAt(fileType(), e.Key()[:len(e.Key())-1])
	if parent == nil || parent.Kind() != reflect.Struct {
		return msg
	}
	var names []string
	for i := range parent.NumField() {
		name, _, _ := strings.Cut(parent.Field(i).Tag.Get("toml"), ",")
		names = append(names, name)
	}
	last := e.Key()[len(e.Key())-1]
	if guess := closest(strings.ReplaceAll(last, "-", "_"), names, 0); guess != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", guess)
	}
	return msg
}

// typeAt is the type the key path leads to from t (pointers, slices and
// maps looked through), or nil.
func typeAt(t reflect.Type, path []string) reflect.Type {
	for {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if len(path) == 0 {
			return t
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			var next reflect.Type
			for i := range t.NumField() {
				name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
				if strings.EqualFold(name, path[0]) || name == "" && strings.EqualFold(t.Field(i).Name, path[0]) {
					next = t.Field(i).Type
					break
				}
			}
			if next == nil {
				return nil
			}
			t = next
		default:
			return nil
		}
		path = path[1:]
	}
}

var (
	decodeTOML  = regexp.MustCompile(`cannot decode TOML (\w+) into (?:struct field .* of type )?(\S+)$`)
	structField = regexp.MustCompile(`struct field .* of type `)
)

// decodeMessage words go-toml's decoding error for a person: a wrong type
// says what the key wants.
func decodeMessage(de *toml.DecodeError) string {
	msg := tomlMessage(de)
	got := decodeTOML.FindStringSubmatch(msg)
	if got == nil {
		return structField.ReplaceAllString(msg, "")
	}
	want := goTypeDoc(got[2])
	if k := Lookup(strings.Join(de.Key(), ".")); k != nil && strings.TrimLeft(got[2], "*") == kindOf(k.field(&Config{})).file.Elem().String() {
		// One of our keys, not an element of it ("cache_control = [1]").
		want = article(k.Type())
		if kindOf(k.field(&Config{})) == kDuration {
			want = `a duration string such as "30s"`
		}
	}
	return fmt.Sprintf("want %s, got %s", want, article(got[1]))
}

// goTypeDoc names the TOML type of a value of the Go type named t, as
// go-toml's messages name it.
func goTypeDoc(t string) string {
	t = strings.TrimLeft(t, "*")
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a float"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	}
	return "a table"
}

// tomlMessage is a go-toml error's message without its package prefix.
func tomlMessage(err error) string { return strings.TrimPrefix(err.Error(), "toml: ") }

func article(what string) string {
	if strings.IndexByte("aeiou", what[0]) >= 0 {
		return "an " + what
	}
	return "a " + what
}

// keyLines maps the path of every key and table the document defines to
// the line where it is first defined: keys are dotted ("cors.origins"),
// array elements are "key[i]", and so are the tables of an array of
// tables, within which paths go on from the element:
// "site[1].headers[0].for". data must parse.
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
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "." + b
	}
	arrays := map[string]int{} // elements seen per array of tables, by path
	// resolve is the path of the dotted parts of a table header, each
	// prefix that names an array of tables standing for its last element.
	resolve := func(parts []string, line int) string {
		path := ""
		for _, part := range parts {
			path = join(path, part)
			note(path, line)
			if n := arrays[path]; n > 0 {
				path += "[" + strconv.Itoa(n-1) + "]"
			}
		}
		return path
	}
	table := ""
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
		case unstable.Table:
			table = resolve(parts, line)
		case unstable.ArrayTable:
			base := join(resolve(parts[:len(parts)-1], line), parts[len(parts)-1])
			note(base, line)
			table = base + "[" + strconv.Itoa(arrays[base]) + "]"
			arrays[base]++
			note(table, line)
		case unstable.KeyValue:
			path := table
			for _, part := range parts {
				path = join(path, part)
				note(path, line)
			}
			if v := e.Value(); v.Kind == unstable.Array {
				i := 0
				for it := v.Children(); it.Next(); i++ {
					note(path+"["+strconv.Itoa(i)+"]", lineOf(it.Node()))
				}
			}
		}
	}
	return lines
}

// standsAt reports whether keyLines saw the key path (without indexes, as
// go-toml gives it) at line.
func standsAt(lines map[string]int, key string, line int) bool {
	for path, l := range lines {
		if l == line && arrayIndex.ReplaceAllString(path, "") == key {
			return true
		}
	}
	return false
}

var arrayIndex = regexp.MustCompile(`\[\d+\]`)

// miscased reports the keys and tables of the file, by the paths and
// lines of keyLines, spelt with another case than weft's names. TOML keys
// are case-sensitive but go-toml matches fields without regard to case,
// so "PORT" would set port, and [[Auth]] then [[auth]] would keep one
// array of the two. The errors' sources lack the file's name.
func miscased(lines map[string]int) []error {
	bad := map[string]string{} // path of a miscased key → its name
	for path := range lines {
		if p, want := miscasedPrefix(fileType(), path); p != "" {
			bad[p] = want
		}
	}
	var errs []error
	for _, p := range slices.SortedFunc(maps.Keys(bad), func(a, b string) int {
		return cmp.Or(cmp.Compare(lines[a], lines[b]), cmp.Compare(a, b))
	}) {
		last := p[strings.LastIndexByte(p, '.')+1:]
		errs = append(errs, &Error{Source: Source{Kind: FromFile, Line: lines[p]},
			Msg: fmt.Sprintf("unknown key %q (keys are case-sensitive: did you mean %q?)", last, bad[p])})
	}
	return errs
}

// miscasedPrefix returns the prefix of path (as keyLines writes it) that
// ends at a key spelt with another case than the field of t it stands
// for, and the field's name; "" when there is none. A key that names no
// field at all is go-toml's to report, and the keys of a map are free.
func miscasedPrefix(t reflect.Type, path string) (string, string) {
	end := 0
	for _, part := range strings.Split(path, ".") {
		if end > 0 {
			end++
		}
		end += len(part)
		raw := part
		part = arrayIndex.ReplaceAllString(part, "")
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
			continue
		case reflect.Struct:
		default:
			return "", ""
		}
		var next reflect.Type
		folded := ""
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == part || name == "" && strings.EqualFold(f.Name, part) {
				next = f.Type
				break
			}
			if name != "" && strings.EqualFold(name, part) {
				folded = name
			}
		}
		switch {
		case next != nil:
			t = next
		case folded != "":
			return path[:end-len(raw)+len(part)], folded // the table, not its element
		default:
			return "", ""
		}
	}
	return "", ""
}
