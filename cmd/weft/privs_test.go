package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain runs the tests with WEFT_ALLOW_ROOT=1: they run as root on CI,
// where weft would switch to nobody, who cannot read the tests' temporary
// folders. run() and every weft binary the tests start read it from the
// environment; the tests of the switch itself (TestUser*) remove it.
func TestMain(m *testing.M) {
	os.Setenv("WEFT_ALLOW_ROOT", "1")
	os.Exit(m.Run())
}

// withoutAllowRoot is the environment without the WEFT_ALLOW_ROOT=1 that
// TestMain sets.
func withoutAllowRoot() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEFT_ALLOW_ROOT=") {
			env = append(env, kv)
		}
	}
	return env
}
