//go:build !unix

package server

import "errors"

func (p *privileges) apply() error {
	return errors.New("weft: --user: switching users is not supported on this system")
}

func writable(dir string) error { return nil }

func executable(name string) error { return nil }
