// Package buildinfo reads what the Go toolchain records about the build
// of the running binary: the module version, the VCS revision and time,
// and the Go version. weft version prints it; the metrics export it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info is a build's description; a field the build did not record is "".
type Info struct {
	Version   string // the main module's version, "(devel)" for a local build
	Revision  string // the VCS revision
	Modified  bool   // the work tree had changes the revision lacks
	Time      string // the revision's commit time, RFC 3339
	GoVersion string // the toolchain's version, as runtime.Version
}

// Read describes the running binary's build.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return Parse(bi)
}

// Parse describes the build bi records; bi may be nil.
func Parse(bi *debug.BuildInfo) Info {
	info := Info{GoVersion: runtime.Version()}
	if bi == nil {
		return info
	}
	info.Version = bi.Main.Version
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "vcs.time":
			info.Time = s.Value
		}
	}
	return info
}
