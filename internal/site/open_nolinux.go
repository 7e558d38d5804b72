//go:build !linux

package site

import "os"

func openRootDir(root string) *os.File { return nil }

// openFile opens name beneath the root through os.Root for reading,
// without blocking on a FIFO or device.
func (s *Site) openFile(name string) (*os.File, error) {
	return s.root.OpenFile(name, os.O_RDONLY|openFlags, 0)
}
