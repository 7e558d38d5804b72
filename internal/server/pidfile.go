package server

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// writePidFile writes this process's id to name, for `weft reload`, and
// returns a function that removes the file if it still holds this id
// (another weft may have taken it over since). A weft that switched users
// (see privs.go) may not be allowed to remove it from its folder (/run is
// root's): the file, root's, is left as it is (weft reload then finds no
// process with its id, or one that is no weft).
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
