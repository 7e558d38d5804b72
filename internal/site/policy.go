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
	if path.Ext(base) == "" || strings.HasPrefix(s.contentType(name), "text/html") {
		return NoCache
	}
	if fingerprinted(base) {
		return Immutable
	}
	return NoCache
}

// assetExts are the kinds of file bundlers name after their content; a
// name of another kind (an image, a PDF) is not taken for fingerprinted,
// whatever it looks like: "og-image-1200x630.png", "invoice-INV00123.pdf".
var assetExts = map[string]bool{
	".js": true, ".mjs": true, ".cjs": true, ".css": true, ".wasm": true,
	".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".eot": true,
}

// fingerprinted reports whether the file name base carries a content
// fingerprint, as bundlers write them: a script, stylesheet, WebAssembly
// module or font (or its source map) whose name has, after its first
// part, a dot- or dash-separated segment of at least 8 letters and digits
// mixing both ("app.3f9a1c2b.js", "main-DlX9aZq1.css",
// "787.2a5b6c7d.chunk.js"), or whose whole name is a hex hash of 16 or
// more ("a1b2c3d4e5f6a7b8.css"). Dimensions ("1200x630") are not hashes.
// A name wrongly held immutable would stay stale in caches for a year,
// while a fingerprint missed (a hash with no digit) costs only
// revalidations, so the rule leans to missing.
func fingerprinted(base string) bool {
	stem := strings.TrimSuffix(base, ".map")
	ext := path.Ext(stem)
	if !assetExts[strings.ToLower(ext)] {
		return false
	}
	stem = strings.TrimSuffix(stem, ext)
	if len(stem) >= 16 && strings.Trim(stem, "0123456789abcdef") == "" {
		return true
	}
	segs := strings.FieldsFunc(stem, func(r rune) bool { return r == '.' || r == '-' })
	for i := 1; i < len(segs); i++ {
		if hashLike(segs[i]) {
			return true
		}
	}
	return false
}

// hashLike reports whether seg looks like a content hash: 8 or more
// letters, digits and underscores, with at least one letter and one
// digit, and not dimensions like "1920x1080".
func hashLike(seg string) bool {
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
	if w, h, ok := strings.Cut(seg, "x"); ok && strings.Trim(w, "0123456789") == "" && strings.Trim(h, "0123456789") == "" {
		return false
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
// of its bytes, computed once per version of the file (see hashes). A
// file of a deployed version in an object store has its hash in the
// manifest: its tag is that, whatever ETag says, so every instance
// serving it gives the same validator without reading it.
func (s *Site) etagOf(r *entry, c codec.Coding) []byte {
	var tag []byte
	if o, ok := r.fi.Sys().(objectInfo); ok {
		if sum, ok := o.ContentSum(); ok {
			tag = contentTag(sum) // a deployed version's: its manifest holds every file's hash
		}
	}
	if tag == nil && s.cfg.ETag == ETagContent {
		if sum, ok := s.hashes.sum(r); ok {
			tag = contentTag(sum)
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

// contentTag is the entity-tag of content whose hash is sum.
func contentTag(sum [16]byte) []byte {
	tag := make([]byte, 0, 2+base64.RawURLEncoding.EncodedLen(len(sum)))
	tag = append(tag, '"')
	tag = base64.RawURLEncoding.AppendEncode(tag, sum[:])
	return append(tag, '"')
}

// hashes remembers the content hashes of files by version (device, inode,
// size, modification time), so a file evicted from the cache and opened
// again is not read through again.
type hashes struct {
	mu       sync.Mutex
	m        map[fileVersion][16]byte
	inflight map[fileVersion]*hashing
}

// hashing is a hash being computed: the requests for the same version of
// a file wait for it instead of reading the file again.
type hashing struct {
	done chan struct{}
	sum  [16]byte
	ok   bool
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
	if !known {
		return hashOf(r)
	}
	h.mu.Lock()
	if sum, ok = h.m[v]; ok {
		h.mu.Unlock()
		return sum, true
	}
	if c := h.inflight[v]; c != nil {
		h.mu.Unlock()
		<-c.done
		return c.sum, c.ok
	}
	c := &hashing{done: make(chan struct{})}
	if h.inflight == nil {
		h.inflight = make(map[fileVersion]*hashing)
	}
	h.inflight[v] = c
	h.mu.Unlock()

	c.sum, c.ok = hashOf(r)
	h.mu.Lock()
	delete(h.inflight, v)
	if c.ok {
		if h.m == nil || len(h.m) >= maxHashes {
			h.m = make(map[fileVersion][16]byte)
		}
		h.m[v] = c.sum
	}
	h.mu.Unlock()
	close(c.done)
	return c.sum, c.ok
}

// hashOf returns the first 128 bits of the SHA-256 of r's content.
func hashOf(r *entry) (sum [16]byte, ok bool) {
	d := sha256.New()
	if r.body != nil {
		d.Write(r.body)
	} else if n, err := io.Copy(d, io.NewSectionReader(r.file, 0, r.size)); err != nil || n != r.size {
		return sum, false
	}
	copy(sum[:], d.Sum(nil))
	return sum, true
}
