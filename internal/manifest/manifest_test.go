package manifest

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

func sample() *Manifest {
	sum := sha256.Sum256([]byte("hello"))
	h := "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	return &Manifest{
		Format:  Format,
		ID:      NewID(time.Date(2026, 12, 2, 0, 15, 0, 0, time.UTC), sum),
		Created: time.Date(2026, 12, 2, 0, 15, 0, 0, time.UTC),
		Dirs:    []string{"css", "css/empty"},
		Files: map[string]File{
			"index.html":   {SHA256: h, Size: 5, Mod: time.Unix(1, 0).UTC()},
			"css/site.css": {SHA256: h, Size: 5, Mod: time.Unix(2, 0).UTC()},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	m := sample()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || len(got.Files) != 2 || got.Files["css/site.css"] != m.Files["css/site.css"] || len(got.Dirs) != 2 {
		t.Fatalf("round trip: got %+v, want %+v", got, m)
	}
	if id, err := ParseCurrent([]byte(m.ID + "\n")); err != nil || id != m.ID {
		t.Fatalf("ParseCurrent = %q, %v", id, err)
	}
}

func TestIDs(t *testing.T) {
	id := NewID(time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), [32]byte{0xab, 0xcd, 0xef, 0x01})
	if id != "20260102T020405Z-abcdef01" {
		t.Fatalf("NewID = %q", id)
	}
	for _, bad := range []string{"", "x", "20260102T020405Z", "20260102T020405Z-ABCDEF01", "20260102T020405Z-abcdef0", "../../x-abcdef01", "20260102T020405Z-abcdef01/..", "20261302T020405Z-abcdef01",
		// time.Parse takes a fraction of a second the layout lacks: not NewID's shape.
		"20260102T020405.5Z-abcdef01", "20260102T020405,999Z-abcdef01"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
		if _, err := ParseCurrent([]byte(bad)); err == nil {
			t.Errorf("ParseCurrent(%q) accepted", bad)
		}
	}
}

func TestKeys(t *testing.T) {
	for _, p := range []string{"site", "site/"} {
		if k := CurrentKey(p); k != "site/.weft/current" {
			t.Errorf("CurrentKey(%q) = %q", p, k)
		}
	}
	if k := ObjectKey("", "ab"); k != ".weft/objects/ab" {
		t.Errorf("ObjectKey = %q", k)
	}
	if k := VersionKey("a/b", "20260102T020405Z-abcdef01"); k != "a/b/.weft/versions/20260102T020405Z-abcdef01.json" {
		t.Errorf("VersionKey = %q", k)
	}
	if !strings.HasPrefix(VersionKey("p", "x"), VersionsPrefix("p")) || !strings.HasPrefix(ObjectKey("p", "x"), ObjectsPrefix("p")) {
		t.Error("keys not beneath their prefixes")
	}
}

// TestValidateRefuses: a manifest from the store is input: names that
// would leave the root, bad hashes and orphans are refused.
func TestValidateRefuses(t *testing.T) {
	h := sample().Files["index.html"].SHA256
	cases := map[string]func(m *Manifest){
		"format":       func(m *Manifest) { m.Format = 2 },
		"id":           func(m *Manifest) { m.ID = "../x" },
		"dotdot":       func(m *Manifest) { m.Files["../etc/passwd"] = File{SHA256: h} },
		"inner dotdot": func(m *Manifest) { m.Files["css/../../x"] = File{SHA256: h} },
		"absolute":     func(m *Manifest) { m.Files["/etc/passwd"] = File{SHA256: h} },
		"trailing":     func(m *Manifest) { m.Files["css/"] = File{SHA256: h} },
		"backslash":    func(m *Manifest) { m.Files[`css\x`] = File{SHA256: h} },
		"nul":          func(m *Manifest) { m.Files["a\x00b"] = File{SHA256: h} },
		"dot":          func(m *Manifest) { m.Files["."] = File{SHA256: h} },
		"orphan":       func(m *Manifest) { m.Files["js/app.js"] = File{SHA256: h} },
		"orphan dir":   func(m *Manifest) { m.Dirs = append(m.Dirs, "a/b") },
		"dup dir":      func(m *Manifest) { m.Dirs = append(m.Dirs, "css") },
		"file is dir":  func(m *Manifest) { m.Files["css"] = File{SHA256: h} },
		"short sum":    func(m *Manifest) { m.Files["x"] = File{SHA256: "abc"} },
		"upper sum":    func(m *Manifest) { m.Files["x"] = File{SHA256: strings.ToUpper(h)} },
		"neg size":     func(m *Manifest) { m.Files["x"] = File{SHA256: h, Size: -1} },
	}
	for name, mutate := range cases {
		m := sample()
		mutate(m)
		if err := m.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		b := []byte(`{"format":1}`)
		if _, err := Decode(bytes.NewReader(b)); err == nil {
			t.Errorf("Decode accepted a manifest without id")
		}
	}
}
