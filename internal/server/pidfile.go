package server

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// writePidFile writes this process's id to name, for `weft reload`, and
// returns a function that removes the file if it still holds this id
// (another weft may have taken it over since).
func writePidFile(name string) (remove func(), err error) {
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := os.WriteFile(name, pid, 0o644); err != nil {
		return nil, fmt.Errorf("weft: pid file: %w", err)
	}
	return func() {
		if b, err := os.ReadFile(name); err == nil && bytes.Equal(b, pid) {
			os.Remove(name)
		}
	}, nil
}
