package config

import (
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
// The kinds below cover today's keys; a key of any other type (a table
// of rules, say) works too: the file decodes it as TOML into the field's
// type, the environment takes a TOML value, and check prints it as TOML.
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
	}
	t := reflect.TypeOf(field).Elem()
	return kind{"table", reflect.PointerTo(t)}
}

// set stores v, a value of the field's type, in the field.
func set(field, v any) {
	reflect.ValueOf(field).Elem().Set(reflect.ValueOf(v))
}

// clone returns a copy of the field's value that shares nothing with it.
func clone(field any) any {
	switch p := field.(type) {
	case *[]site.CacheRule:
		return slices.Clone(*p)
	case *map[string]string:
		return maps.Clone(*p)
	}
	return reflect.ValueOf(field).Elem().Interface()
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
	p := reflect.New(reflect.TypeOf(field).Elem())
	if err := toml.Unmarshal([]byte("V = "+s), &struct{ V any }{p.Interface()}); err != nil {
		return nil, fmt.Errorf("want a TOML value: %s", tomlMessage(err))
	}
	return p.Elem().Interface(), nil
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
	b, err := toml.Marshal(struct{ V any }{v})
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	_, val, _ := strings.Cut(strings.TrimSpace(string(b)), " = ")
	return val
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
