package site

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/weft-server/weft/internal/codec"
)

// CacheRule sets the Cache-Control of the files whose path matches Glob:
// a pattern with a "/" is matched against the whole path from the root
// ("/assets/**"), one without against the file's name ("*.woff2"); "**"
// crosses directories, "*" does not (doublestar syntax; see pathGlob,
// which every rule naming paths shares).
type CacheRule struct {
	Glob  string
	Value string
}

// Default Cache-Control values.
const (
	// Revalidate before each use: HTML, documents without an extension
	// and, unless configured, everything whose name does not change with
	// its content.
	NoCache = "no-cache"
	// Names that carry a fingerprint of their content never change.
	Immutable = "public, max-age=31536000, immutable"
)

// cacheRule is a compiled CacheRule.
type cacheRule struct {
	g     pathGlob
	value string
}

// compileCacheRules compiles rules, reporting the first malformed one.
func compileCacheRules(rules []CacheRule) ([]cacheRule, error) {
	out := make([]cacheRule, 0, len(rules))
	for _, r := range rules {
		g, err := compileGlob(r.Glob)
		if err != nil {
			return nil, fmt.Errorf("weft: cache-control rule %q: bad pattern", r.Glob)
		}
		if strings.ContainsAny(r.Value, "\r\n\x00") || strings.TrimSpace(r.Value) == "" {
			return nil, fmt.Errorf("weft: cache-control rule %q: bad value %q", r.Glob, r.Value)
		}
		out = append(out, cacheRule{g, r.Value})
	}
	return out, nil
}

// cacheControl returns the Cache-Control value for the file name (beneath
// the root), "" for none: the first rule that matches, else the defaults.
func (s *Site) cacheControl(name string) string {
	if s.cfg.NoCacheControl {
		return ""
	}
	p := "/" + name
	for i := range s.cacheRules {
		if s.cacheRules[i].g.match(p) {
			return s.cacheRules[i].value
		}
	}
	base := path.Base(name)
	ext := path.Ext(base)
	if ext == "" || strings.HasPrefix(s.contentType(name), "text/html") {
		return NoCache
	}
	if fingerprinted(strings.TrimSuffix(base, ext)) {
		return Immutable
	}
	return NoCache
}

// fingerprinted reports whether a file's name without its extension ends
// in a content fingerprint, as bundlers write them: a segment after a dot
// or a dash ("app.3f9a1c2b", "main-DlX9aZq1") of at least 8 hex or
// base64url characters. To keep words and dates out ("jquery-dashboard",
// "report-20241201"), the segment must mix letters and digits: a name
// wrongly held immutable would stay stale in caches for a year, while a
// fingerprint missed costs only revalidations.
func fingerprinted(stem string) bool {
	i := strings.LastIndexAny(stem, ".-")
	if i <= 0 {
		return false
	}
	seg := stem[i+1:]
	if len(seg) < 8 {
		return false
	}
	var letter, digit bool
	for j := 0; j < len(seg); j++ {
		switch c := seg[j]; {
		case '0' <= c && c <= '9':
			digit = true
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			letter = true
		case c == '_':
		default:
			return false
		}
	}
	return letter && digit
}

// ETag kinds (Config.ETag).
const (
	ETagMtime   = "mtime"   // modification time and size, as nginx: cheap, per machine
	ETagContent = "content" // a hash of the content: the same wherever the bytes are
)

// etagOf returns the entity-tag of the representation r in coding c:
// from its modification time and size, or, with ETagContent, from a hash
// of its bytes, computed once per version of the file (see hashes).
func (s *Site) etagOf(r *entry, c codec.Coding) []byte {
	var tag []byte
	if s.cfg.ETag == ETagContent {
		if sum, ok := s.hashes.sum(r); ok {
			tag = make([]byte, 0, 2+base64.RawURLEncoding.EncodedLen(len(sum)))
			tag = append(tag, '"')
			tag = base64.RawURLEncoding.AppendEncode(tag, sum[:])
			tag = append(tag, '"')
		}
	}
	if tag == nil {
		tag = appendETag(nil, r.size, r.mod)
	}
	if c != codec.Identity {
		tag = variantTag(tag, c)
	}
	return tag
}

// hashes remembers the content hashes of files by version (device, inode,
// size, modification time), so a file evicted from the cache and opened
// again is not read through again.
type hashes struct {
	mu sync.Mutex
	m  map[fileVersion][16]byte
}

type fileVersion struct {
	dev, ino  uint64
	size, mod int64
}

// maxHashes bounds the memory of hashes (about 100 bytes a file).
const maxHashes = 1 << 16

// sum returns the first 128 bits of the SHA-256 of r's content. It reads
// the whole file when r is held open: the caller is off the event loops.
func (h *hashes) sum(r *entry) (sum [16]byte, ok bool) {
	v, known := versionOf(r)
	if known {
		h.mu.Lock()
		sum, ok = h.m[v]
		h.mu.Unlock()
		if ok {
			return sum, true
		}
	}
	d := sha256.New()
	if r.body != nil {
		d.Write(r.body)
	} else if n, err := io.Copy(d, io.NewSectionReader(r.file, 0, r.size)); err != nil || n != r.size {
		return sum, false
	}
	copy(sum[:], d.Sum(nil))
	if known {
		h.mu.Lock()
		if h.m == nil || len(h.m) >= maxHashes {
			h.m = make(map[fileVersion][16]byte)
		}
		h.m[v] = sum
		h.mu.Unlock()
	}
	return sum, true
}
