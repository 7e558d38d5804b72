//go:build !linux

package site

import "os"

func openRootDir(root string) *os.File { return nil }

// resolveFor is unused without openat2.
func resolveFor(string) uint64 { return 0 }

// openFile opens name beneath the root for reading (see openPortable),
// without blocking on a FIFO or device.
func (s *Site) openFile(name string) (*os.File, error) {
	return s.openPortable(name)
}
