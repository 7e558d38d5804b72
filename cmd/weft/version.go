package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/weft-server/weft/internal/buildinfo"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version from the build info is used.
var version = ""

// versionText is what weft version and weft --version print.
func versionText() string { return formatVersion(version, buildinfo.Read()) }

// formatVersion writes the version (override, else the module's), the
// VCS revision with -dirty when the tree had changes, the commit time and
// the Go version, leaving out what the build did not record.
func formatVersion(override string, bi buildinfo.Info) string {
	v := override
	if v == "" {
		v = bi.Version
	}
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "weft %s\n", v)
	if bi.Revision != "" {
		rev := bi.Revision
		if bi.Modified {
			rev += "-dirty"
		}
		fmt.Fprintf(&b, "revision: %s\n", rev)
	}
	if bi.Time != "" {
		fmt.Fprintf(&b, "committed: %s\n", bi.Time)
	}
	fmt.Fprintf(&b, "go: %s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
