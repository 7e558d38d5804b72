package config

import (
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/pelletier/go-toml/v2"

	"github.com/weft-server/weft/internal/site"
)

// A kind is what a key's Config field holds and how each source spells it.
// Keys of the scalar kinds below, cache_control and mime have their own
// spellings; a key of any other type (a table of rules, say) works too:
// the file decodes it as TOML into the field's type (the toml tags of its
// structs name their keys), the environment takes a TOML value or a short
// form (see parseString), and check prints it as inline TOML (inline).
type kind struct {
	doc  string       // the TOML type, for documentation
	file reflect.Type // what the file decodes into (a pointer: nil when absent)
}

var (
	kString   = kind{"string", reflect.TypeFor[*string]()}
	kInt      = kind{"integer", reflect.TypeFor[*int64]()}
	kBool     = kind{"boolean", reflect.TypeFor[*bool]()}
	kDuration = kind{"duration", reflect.TypeFor[*string]()}
	kRules    = kind{"array of strings", reflect.TypeFor[*[]string]()}
	kMap      = kind{"table of strings", reflect.TypeFor[*map[string]string]()}
	// kStatusMap is error_pages: TOML keys are strings ("404"), made
	// integers by fromFile so that a bad one is reported with its line.
	kStatusMap = kind{"table of strings", reflect.TypeFor[*map[string]string]()}
)

func kindOf(field any) kind {
	switch field.(type) {
	case *string:
		return kString
	case *int, *int64:
		return kInt
	case *bool:
		return kBool
	case *time.Duration:
		return kDuration
	case *[]site.CacheRule:
		return kRules
	case *map[string]string:
		return kMap
	case *map[int]string:
		return kStatusMap
	}
	t := reflect.TypeOf(field).Elem()
	return kind{typeDoc(t), reflect.PointerTo(t)}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// typeDoc names the TOML type a value of the Go type t is written as.
func typeDoc(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice, reflect.Array:
		switch e := typeDoc(t.Elem()); e {
		case "table":
			return "array of tables"
		case "string", "integer", "boolean":
			return "array of " + e + "s"
		}
		return "array"
	case reflect.Map:
		if typeDoc(t.Elem()) == "string" {
			return "table of strings"
		}
	}
	return "table"
}

// set stores v, a value of the field's type, in the field.
func set(field, v any) {
	reflect.ValueOf(field).Elem().Set(reflect.ValueOf(v))
}

// clone returns a copy of the field's value that shares nothing with it.
func clone(field any) any {
	return deepCopy(reflect.ValueOf(field).Elem()).Interface()
}

// deepCopy copies v and everything its pointers, slices and maps reach;
// a struct's unexported fields (netip.Prefix's) are copied as values.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(deepCopy(v.Elem()))
		return p
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			s.Index(i).Set(deepCopy(v.Index(i)))
		}
		return s
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), deepCopy(it.Value()))
		}
		return m
	case reflect.Struct:
		s := reflect.New(v.Type()).Elem()
		s.Set(v)
		for i := range v.NumField() {
			if s.Field(i).CanSet() {
				s.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return s
	}
	return v
}

// parseString parses s, a value from the environment, for field.
func parseString(field any, s string) (any, error) {
	switch field.(type) {
	case *string:
		return s, nil
	case *int, *int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %q", s)
		}
		return fromInt64(field, n)
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("want true or false, got %q", s)
		}
		return b, nil
	case *time.Duration:
		return parseDuration(s)
	case *[]site.CacheRule:
		items := []string{s}
		if strings.HasPrefix(strings.TrimSpace(s), "[") {
			var v struct{ V []string }
			if err := toml.Unmarshal([]byte("V = "+s), &v); err != nil {
				return nil, fmt.Errorf("want GLOB=VALUE or a TOML array of them: %s", tomlMessage(err))
			}
			items = v.V
		} else if strings.TrimSpace(s) == "" {
			items = nil
		}
		rules := []site.CacheRule{}
		for _, it := range items {
			r, err := ParseCacheRule(it)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r)
		}
		return rules, nil
	case *map[string]string:
		m := map[string]string{}
		for _, pair := range strings.Split(s, ",") {
			if strings.TrimSpace(pair) == "" {
				continue
			}
			if err := AddMIME(m, pair); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	short := shortForms[reflect.TypeOf(field).Elem()]
	if t := strings.TrimSpace(s); short != nil && t != "" && t[0] != '[' && t[0] != '{' {
		return short(s)
	}
	if strings.TrimSpace(s) == "" {
		// Nothing: the zero value, or an empty list or table.
		return zeroOf(field), nil
	}
	return decodeValue(s, field)
}

// zeroOf is the empty value of field's type: an empty (not nil) list or
// table, a nil pointer.
func zeroOf(field any) any {
	t := reflect.TypeOf(field).Elem()
	switch t.Kind() {
	case reflect.Slice:
		return reflect.MakeSlice(t, 0, 0).Interface()
	case reflect.Map:
		return reflect.MakeMap(t).Interface()
	}
	return reflect.Zero(t).Interface()
}

// decodeValue decodes s, a TOML value (an inline table, an array of
// them), for field, strictly: an unknown key is an error.
func decodeValue(s string, field any) (any, error) {
	k := kindOf(field)
	st := reflect.StructOf([]reflect.StructField{{Name: "V", Type: k.file, Tag: `toml:"v"`}})
	p := reflect.New(st)
	d := toml.NewDecoder(strings.NewReader("v = " + s))
	d.DisallowUnknownFields()
	if err := d.Decode(p.Interface()); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) && len(strict.Errors) > 0 {
			return nil, fmt.Errorf("want a TOML %s: unknown key %q", k.doc, strings.Join(strict.Errors[0].Key(), "."))
		}
		return nil, fmt.Errorf("want a TOML %s: %s", k.doc, tomlMessage(err))
	}
	fv := p.Elem().Field(0)
	if fv.IsNil() {
		return zeroOf(field), nil
	}
	return fromFile(field, fv, "")
}

// fromFile converts fv, what the file held for the key name (of type
// kindOf(field).file, not nil), to a value of the field's type.
func fromFile(field any, fv reflect.Value, name string) (any, error) {
	v := fv.Elem().Interface()
	switch field.(type) {
	case *int:
		return fromInt64(field, v.(int64))
	case *time.Duration:
		return parseDuration(v.(string))
	case *[]site.CacheRule:
		rules := []site.CacheRule{}
		for i, s := range v.([]string) {
			r, err := ParseCacheRule(s)
			if err != nil {
				return nil, &partError{fmt.Sprintf("%s[%d]", name, i), err}
			}
			rules = append(rules, r)
		}
		return rules, nil
	case *map[string]string:
		m := map[string]string{}
		for _, ext := range slices.Sorted(maps.Keys(v.(map[string]string))) {
			if err := AddMIME(m, ext+"="+v.(map[string]string)[ext]); err != nil {
				return nil, &partError{name + "." + ext, err}
			}
		}
		return m, nil
	case *map[int]string:
		m := map[int]string{}
		for _, key := range slices.Sorted(maps.Keys(v.(map[string]string))) {
			status, err := strconv.Atoi(key)
			if err != nil || status < 100 || status > 999 {
				return nil, &partError{name + "." + key, fmt.Errorf("%q is not a status code (want \"404\" = \"404.html\")", key)}
			}
			m[status] = v.(map[string]string)[key]
		}
		return m, nil
	}
	return v, nil
}

// fromInt64 converts n to the type of field, an *int or an *int64.
func fromInt64(field any, n int64) (any, error) {
	if _, ok := field.(*int); !ok {
		return n, nil
	}
	if int64(int(n)) != n {
		return nil, fmt.Errorf("%d is too large", n)
	}
	return int(n), nil
}

// partError is an error about a part of a key's value: an entry of a
// table ("mime.md") or an element of an array ("cache_control[2]"), which
// may stand on another line than the key.
type partError struct {
	path string
	err  error
}

func (e *partError) Error() string { return e.err.Error() }

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("want a duration such as \"30s\" or \"1m30s\", got %q", s)
	}
	return d, nil
}

// ParseCacheRule parses a cache_control rule, GLOB=VALUE (split at the
// first "="; a glob cannot hold one).
func ParseCacheRule(v string) (site.CacheRule, error) {
	glob, value, ok := strings.Cut(v, "=")
	glob, value = strings.TrimSpace(glob), strings.TrimSpace(value)
	switch {
	case !ok || glob == "" || value == "":
		return site.CacheRule{}, fmt.Errorf("want GLOB=VALUE, e.g. '*.woff2=public, max-age=31536000', got %q", v)
	case !doublestar.ValidatePattern(glob):
		return site.CacheRule{}, fmt.Errorf("bad pattern %q", glob)
	case strings.ContainsAny(value, "\r\n\x00"):
		return site.CacheRule{}, fmt.Errorf("value %q has a line break or NUL", value)
	}
	return site.CacheRule{Glob: glob, Value: value}, nil
}

// AddMIME checks EXT=TYPE and adds it to m, as the site's table holds it
// (see site.CheckMIME); a later one for the same extension wins.
func AddMIME(m map[string]string, v string) error {
	ext, ctype, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want EXT=TYPE, as in .md=text/markdown")
	}
	key, value, err := site.CheckMIME(strings.TrimSpace(ext), ctype)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "weft: "))
	}
	m[key] = value
	return nil
}

// format renders a value of a key's type as TOML.
func format(v any) string {
	switch v := v.(type) {
	case string:
		return quote(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case time.Duration:
		return quote(v.String())
	case []site.CacheRule:
		items := make([]string, len(v))
		for i, r := range v {
			items[i] = quote(r.Glob + "=" + r.Value)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case map[string]string:
		items := make([]string, 0, len(v))
		for _, ext := range slices.Sorted(maps.Keys(v)) {
			items = append(items, quote(ext)+" = "+quote(v[ext]))
		}
		if len(items) == 0 {
			return "{}"
		}
		return "{ " + strings.Join(items, ", ") + " }"
	}
	return inline(reflect.ValueOf(v))
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// inline renders v as an inline TOML value: a struct as a table of its
// toml-tagged fields that are not zero, a map with its keys in order, a
// nil pointer as "" (a key with no value is not written).
func inline(v reflect.Value) string {
	if v.IsValid() && v.Type().Implements(textMarshaler) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return quote(err.Error())
		}
		return quote(string(b))
	}
	switch v.Kind() {
	case reflect.String:
		return quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return inline(v.Elem())
	case reflect.Slice, reflect.Array:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = inline(v.Index(i))
		}
		return "[" + strings.Join(items, ", ") + "]"
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			if a.CanInt() {
				return cmp.Compare(a.Int(), b.Int())
			}
			return strings.Compare(a.String(), b.String())
		})
		items := make([]string, len(keys))
		for i, k := range keys {
			name := k.String()
			if k.CanInt() {
				name = strconv.FormatInt(k.Int(), 10)
			}
			items[i] = tomlKey(name) + " = " + inline(v.MapIndex(k))
		}
		return table(items)
	case reflect.Struct:
		var items []string
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || name == "" || name == "-" || v.Field(i).IsZero() {
				continue
			}
			items = append(items, tomlKey(name)+" = "+inline(v.Field(i)))
		}
		return table(items)
	}
	return quote(fmt.Sprint(v.Interface()))
}

func table(items []string) string {
	if len(items) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(items, ", ") + " }"
}

// tomlKey is name as a TOML key: bare when it can be, else quoted.
func tomlKey(name string) string {
	if name == "" {
		return `""`
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return quote(name)
		}
	}
	return name
}

// quote renders s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
