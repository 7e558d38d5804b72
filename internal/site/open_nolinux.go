//go:build !linux

package site

import "os"

func openRootFD(root string) int { return -1 }

func closeRootFD(fd int) {}

// openFile opens name beneath the root through os.Root for reading,
// without blocking on a FIFO or device.
func (s *Site) openFile(name string) (*os.File, error) {
	return s.root.OpenFile(name, os.O_RDONLY|openFlags, 0)
}
