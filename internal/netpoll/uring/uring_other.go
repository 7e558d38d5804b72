//go:build !linux

package uring

// Available reports whether io_uring can be used here: never on this OS.
func Available() error { return ErrUnsupported }
