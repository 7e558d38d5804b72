package codec

import (
	"fmt"
	"strings"
)

// DefaultTypes are the media types compressed by default: text, scripts,
// data and markup, SVG, WebAssembly, manifests and uncompressed fonts.
// Images, audio, video, archives and woff/woff2 fonts are compressed
// already and gain nothing.
const DefaultTypes = "text/*,application/javascript,application/x-javascript,application/vnd.apple.mpegurl,application/rtf,application/postscript,application/x-x509-ca-cert,model/gltf+json,application/json,application/*+json,application/xml,application/*+xml,image/svg+xml,application/wasm,application/manifest+json,application/yaml,application/toml,application/vnd.ms-fontobject,font/ttf,font/otf,application/x-sh"

// Types is a set of media-type patterns: "type/subtype", "type/*", or
// "type/*+suffix". The zero value matches nothing.
type Types struct {
	exact    map[string]bool
	prefixes []string // "text/" of "text/*"
	suffixes []string // "/…+json" of "application/*+json": type prefix and suffix
	sufTypes []string
}

// ParseTypes parses a comma-separated list of patterns.
func ParseTypes(list string) (Types, error) {
	t := Types{exact: map[string]bool{}}
	for _, p := range strings.Split(list, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		typ, sub, ok := strings.Cut(p, "/")
		if !ok || typ == "" || sub == "" || strings.Contains(typ, "*") || strings.ContainsAny(p, " ;") {
			return Types{}, fmt.Errorf("codec: %q is not a media type pattern (type/subtype, type/*, type/*+suffix)", p)
		}
		switch {
		case sub == "*":
			t.prefixes = append(t.prefixes, typ+"/")
		case strings.HasPrefix(sub, "*+"):
			t.sufTypes = append(t.sufTypes, typ+"/")
			t.suffixes = append(t.suffixes, sub[1:])
		case strings.Contains(sub, "*"):
			return Types{}, fmt.Errorf("codec: %q: a wildcard stands for a whole subtype (type/*) or its name before a suffix (type/*+json)", p)
		default:
			t.exact[p] = true
		}
	}
	return t, nil
}

// MustParseTypes is ParseTypes for lists known to be valid.
func MustParseTypes(list string) Types {
	t, err := ParseTypes(list)
	if err != nil {
		panic(err)
	}
	return t
}

// Match reports whether the content type ctype (parameters allowed, as in
// "text/html; charset=utf-8") is in the set.
func (t Types) Match(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if t.exact[mt] {
		return true
	}
	for _, p := range t.prefixes {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	for i, s := range t.suffixes {
		if strings.HasPrefix(mt, t.sufTypes[i]) && strings.HasSuffix(mt, s) {
			return true
		}
	}
	return false
}
