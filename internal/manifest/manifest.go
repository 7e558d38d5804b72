// Package manifest is the layout of a deployed site in an object store:
// which keys hold what, and the manifest that lists a version's files.
// weft deploy writes it; an s3:// root whose prefix holds a deploy reads
// it. Both sides use this package, so the layout is written down once.
//
// Beneath a deploy's prefix (P):
//
//	P/.weft/current             the ID of the version being served, one line
//	P/.weft/versions/ID.json    a version's manifest (Manifest, JSON)
//	P/.weft/objects/SHA256      a file's bytes, named by the hex SHA-256 of them
//
// Objects are immutable and shared by every version that holds the same
// bytes, so a deploy uploads only what no earlier version had. A version
// is published by writing its manifest, then switching current to its ID:
// one small PUT, atomic in every S3-compatible store.
package manifest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// Dir is the folder beneath a deploy's prefix that holds the deploy.
const Dir = ".weft"

// Format is the manifest format this package writes and reads.
const Format = 1

// MaxBytes bounds a manifest a reader accepts (about 150 bytes a file).
const MaxBytes = 256 << 20

// CurrentKey is the key of the pointer to the version being served.
func CurrentKey(prefix string) string { return join(prefix, Dir+"/current") }

// VersionKey is the key of version id's manifest.
func VersionKey(prefix, id string) string { return join(prefix, Dir+"/versions/"+id+".json") }

// VersionsPrefix is the key prefix under which every manifest lies.
func VersionsPrefix(prefix string) string { return join(prefix, Dir+"/versions/") }

// ObjectKey is the key of the object whose bytes hash to sum (hex SHA-256).
func ObjectKey(prefix, sum string) string { return join(prefix, Dir+"/objects/"+sum) }

// ObjectsPrefix is the key prefix under which every object lies.
func ObjectsPrefix(prefix string) string { return join(prefix, Dir+"/objects/") }

// join puts key beneath prefix ("" or a prefix with or without its slash).
func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return strings.TrimSuffix(prefix, "/") + "/" + key
}

// Manifest lists the files of one version of a site.
type Manifest struct {
	Format  int             `json:"format"`
	ID      string          `json:"id"`
	Created time.Time       `json:"created"`
	Files   map[string]File `json:"files"`          // by name beneath the root: slash-separated, no leading slash
	Dirs    []string        `json:"dirs,omitempty"` // every folder beneath the root, empty ones included; not "."
}

// File is one file of a version.
type File struct {
	SHA256 string    `json:"sha256"` // hex SHA-256 of the content: the object's name
	Size   int64     `json:"size"`
	Mod    time.Time `json:"mod"` // the file's modification time when it was deployed
}

// NewID returns a version ID for a deploy made at t of a tree whose
// manifest hashes to sum: sortable by time, unique by content.
func NewID(t time.Time, sum [32]byte) string {
	return t.UTC().Format(idTime) + "-" + hex.EncodeToString(sum[:4])
}

// idTime is the layout of a version ID's time.
const idTime = "20060102T150405Z"

// ValidID reports whether id has NewID's shape, so it can name a key.
func ValidID(id string) bool {
	ts, h, ok := strings.Cut(id, "-")
	if !ok || len(h) != 8 || len(ts) != len(idTime) {
		return false // the length rules out a fraction of a second, which time.Parse takes
	}
	if _, err := time.Parse(idTime, ts); err != nil {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// ValidSum reports whether s is a lowercase hex SHA-256.
func ValidSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validName reports whether name is a clean slash-separated name beneath
// the root that a request could reach: no empty, "." or ".." segment, no
// leading or trailing slash, no backslash or NUL.
func validName(name string) bool {
	return name != "." && fs.ValidPath(name) && !strings.ContainsAny(name, "\\\x00")
}

// Validate checks what a reader must not trust: names, hashes, sizes, and
// that every file's and folder's parent folder is listed.
func (m *Manifest) Validate() error {
	if m.Format != Format {
		return fmt.Errorf("manifest format %d, want %d", m.Format, Format)
	}
	if !ValidID(m.ID) {
		return fmt.Errorf("manifest id %q is not a version ID", m.ID)
	}
	dirs := make(map[string]bool, len(m.Dirs)+1)
	dirs["."] = true
	for _, d := range m.Dirs {
		if !validName(d) {
			return fmt.Errorf("manifest: folder name %q", d)
		}
		if dirs[d] {
			return fmt.Errorf("manifest: folder %q listed twice", d)
		}
		dirs[d] = true
	}
	for _, d := range m.Dirs {
		if !dirs[path.Dir(d)] {
			return fmt.Errorf("manifest: folder %q has no parent folder listed", d)
		}
	}
	for name, f := range m.Files {
		switch {
		case !validName(name):
			return fmt.Errorf("manifest: file name %q", name)
		case dirs[name]:
			return fmt.Errorf("manifest: %q is both a file and a folder", name)
		case !dirs[path.Dir(name)]:
			return fmt.Errorf("manifest: file %q has no parent folder listed", name)
		case !ValidSum(f.SHA256):
			return fmt.Errorf("manifest: file %q: sha256 %q", name, f.SHA256)
		case f.Size < 0:
			return fmt.Errorf("manifest: file %q: size %d", name, f.Size)
		}
	}
	return nil
}

// Encode returns m as JSON, after checking it.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// Decode reads a manifest of at most MaxBytes from r and checks it.
func Decode(r io.Reader) (*Manifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBytes {
		return nil, errors.New("manifest larger than 256 MiB")
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Files == nil {
		m.Files = map[string]File{}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ParseCurrent reads the pointer object's content: one version ID.
func ParseCurrent(b []byte) (string, error) {
	id := strings.TrimSpace(string(b))
	if !ValidID(id) {
		return "", fmt.Errorf("current version %q is not a version ID", id)
	}
	return id, nil
}
