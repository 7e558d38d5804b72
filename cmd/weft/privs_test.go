package main

import (
	"os"
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
