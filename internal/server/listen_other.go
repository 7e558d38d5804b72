//go:build !unix

package server

import (
	"fmt"
	"net"
	"os"
)

// bindUnix listens on a unix socket at path and sets its file's mode (0:
// left as created); this system has no umask to create it so.
func bindUnix(path string, mode os.FileMode) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil || mode == 0 {
		return ln, err
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("unix socket mode: %w", err)
	}
	return ln, nil
}

// listening has nothing to check here: net.FileListener checks what it can.
func listening(*os.File) error { return nil }
