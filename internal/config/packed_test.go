package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPacked: flags packed into the executable sit over the defaults and
// under the file, the environment and the run-time flags, with their
// source; a list from a higher source replaces the packed list.
func TestPacked(t *testing.T) {
	packed, err := ParseFlags([]string{"--listing", "--spa", "app.html", "--port", "9000", "--header", "/*: X-Packed: 1", "--engine", "goroutine", "--etag", "content"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte("port = 9100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags, err := ParseFlags([]string{"--engine", "serial"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{Dir: dir, Env: []string{"WEFT_SPA=other.html"}, Flags: flags, Packed: packed})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key, got, want string
		src            Source
	}{
		{"listing", format(c.Listing), "true", Source{Kind: FromPack, Name: "listing"}},
		{"etag", c.ETag, "content", Source{Kind: FromPack, Name: "etag"}},
		{"port", format(c.Port), "9100", Source{Kind: FromFile, Name: filepath.Join(dir, DefaultFile), Line: 1}},
		{"spa", c.SPA, "other.html", Source{Kind: FromEnv, Name: "WEFT_SPA"}},
		{"engine", c.Engine, "serial", Source{Kind: FromFlag, Name: "engine"}},
	}
	for _, tc := range cases {
		if tc.got != tc.want || c.Source(tc.key) != tc.src {
			t.Errorf("%s = %s from %v, want %s from %v", tc.key, tc.got, c.Source(tc.key), tc.want, tc.src)
		}
	}
	if len(c.Headers) != 1 || c.Source("headers").String() != "packed flag --header" {
		t.Errorf("headers %v from %v, want the packed rule", c.Headers, c.Source("headers"))
	}
	if !strings.Contains(c.Effective(), "# packed flag --listing") {
		t.Errorf("the effective configuration does not say listing was packed:\n%s", c.Effective())
	}
	flags, err = ParseFlags([]string{"--header", "/*: X-Run: 1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err = Load(Options{Dir: t.TempDir(), Flags: flags, Packed: packed})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Headers) != 1 || c.Headers[0].Set["X-Run"] != "1" {
		t.Errorf("headers %+v: want the run-time rule only", c.Headers)
	}
}

func TestParseFlagsRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--listing", "dir"},
		{"--config", "weft.toml"},
		{"--port", "eighty"},
	} {
		if _, err := ParseFlags(args); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseFlags(%q) = %v, want a one-line error", args, err)
		}
	}
}
