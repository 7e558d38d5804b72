// Regression tests from an adversarial review of issue 9 (configuration and
// site rules). A test's comment describes the defect it caught, in the code
// as it was then; every one passes since the fixes that followed.

package config

// Review of issue 9 (configuration): failing reproduction. Run with
//
//	go test -count=1 -run 'TestReview9' ./internal/config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReview9KeysAreCaseSensitive: TOML keys are case-sensitive (TOML
// 1.0, "Keys"), but go-toml matches struct fields case-insensitively, so
// loadFile takes "Auth", "PORT" or "Headers" for weft's keys: not an
// unknown key, no line (`weft config check` prints "weft.toml:0"), and an
// array of tables spelt both ways ([[Auth]] then [[auth]]) keeps only
// the last: the first rule is dropped without a word, here the one that
// protects /admin. Either every spelling but the key's is an unknown key
// (what "strict" promises), or the rules are all kept.
func TestReview9KeysAreCaseSensitive(t *testing.T) {
	dir := t.TempDir()
	hp := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(hp, []byte("alice:$2a$04$5gKRPGt5fQIwNzW/QPpdxeOsRe7cLL5DHAL5LpyOLlLEvkGkc2eZ6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "weft.toml")
	text := "[[Auth]]\nprefix = \"/admin\"\nhtpasswd = \"htpasswd\"\n\n[[auth]]\nprefix = \"/staff\"\nhtpasswd = \"htpasswd\"\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := build(file, []byte(text), nil, Options{})
	if err != nil {
		return // refused: fine
	}
	if len(c.Auth) != 2 {
		t.Errorf("[[Auth]] and [[auth]]: loaded without an error, with %d rule(s): %+v: the /admin rule is silently gone", len(c.Auth), c.Auth)
	}
	c, err = build(file, []byte("PORT = 9000\n"), nil, Options{})
	if err == nil {
		t.Errorf("PORT = 9000 accepted as port (%d, source %v): not the key's name, and no line", c.Port, c.Source("port"))
	}
}
