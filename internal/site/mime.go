package site

import (
	"fmt"
	"maps"
	"mime"
	"path"
	"strings"
)

const (
	defaultType = "application/octet-stream"
	maxExt      = 32 // longest extension looked up, dot included
)

// contentType returns the content type s serves the file name with, by its
// extension, ignoring ASCII case. It does not allocate.
func (s *Site) contentType(name string) string { return typeIn(s.types, name) }

// TypeOf returns the content type weft's built-in table gives the file
// name (application/octet-stream when its extension is unknown), for tools
// that must judge files as the server labels them.
func TypeOf(name string) string { return typeIn(mimeTypes, name) }

func typeIn(table map[string]string, name string) string {
	ext := path.Ext(name)
	if ext == "" || len(ext) > maxExt {
		return defaultType
	}
	var buf [maxExt]byte
	if t, ok := table[string(appendLower(buf[:0], ext))]; ok {
		return t
	}
	return defaultType
}

// mimeTable returns mimeTypes with the additions and overrides of add
// (Config.MIME) applied; mimeTypes itself when there are none.
func mimeTable(add map[string]string) (map[string]string, error) {
	if len(add) == 0 {
		return mimeTypes, nil
	}
	types := maps.Clone(mimeTypes)
	given := make(map[string]string, len(add)) // extension → as given
	for ext, ctype := range add {
		key, value, err := CheckMIME(ext, ctype)
		if err != nil {
			return nil, err
		}
		if prev, ok := given[key]; ok {
			return nil, fmt.Errorf("weft: MIME extension %s given twice (as %q and %q)", key, prev, ext)
		}
		given[key] = ext
		types[key] = value
	}
	return types, nil
}

// CheckMIME checks one addition to the MIME table (Config.MIME, --mime) and
// returns it as the table holds it: the extension, given with or without
// its leading dot, lower-cased with the dot; the content type, which must be
// type/subtype with optional parameters, with charset=utf-8 added to a
// text/* type that names no charset, as in the built-in table.
func CheckMIME(ext, ctype string) (key, value string, err error) {
	e := strings.TrimPrefix(ext, ".")
	if e == "" || len(e)+1 > maxExt || strings.ContainsAny(e, "./\\ \t") || hasCTL(e) {
		return "", "", fmt.Errorf("weft: MIME extension %q: want .EXT, one name part of at most %d bytes without dots, slashes or spaces", ext, maxExt-1)
	}
	key = "." + string(appendLower(nil, e))
	value = strings.TrimSpace(ctype)
	mt, params, err := mime.ParseMediaType(value)
	if err != nil || !strings.Contains(mt, "/") || hasCTL(value) {
		return "", "", fmt.Errorf("weft: MIME type %q for %s: want type/subtype, optionally followed by ; name=value parameters", ctype, key)
	}
	if _, ok := params["charset"]; !ok && strings.HasPrefix(mt, "text/") {
		params["charset"] = "utf-8"
	}
	// Written back in canonical form, so that what is checked once is what
	// is served, and a configuration printed with it loads again
	// ("teXt/x;" would otherwise become "teXt/x;; charset=utf-8").
	if value = mime.FormatMediaType(mt, params); value == "" {
		return "", "", fmt.Errorf("weft: MIME type %q for %s: want type/subtype, optionally followed by ; name=value parameters", ctype, key)
	}
	return key, value, nil
}

// appendLower appends s to dst with ASCII letters in lower case.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// hasCTL reports whether s holds a control character other than tab, which
// no header field value may hold.
func hasCTL(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f })
}
