//go:build !windows

package tlsx

import (
	"fmt"
	"os"
)

// checkKeyPerms refuses a key file that group or others may read or write.
func checkKeyPerms(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("weft: tls: private key: %w", err)
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s, or pass --tls-allow-insecure-key-perms",
			ErrInsecureKeyPerms, path, mode, path)
	}
	return nil
}
