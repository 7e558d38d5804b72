//go:build !linux

package main

import "os"

// isTerminal is false off Linux: no live progress line there.
func isTerminal(f *os.File) bool { return false }
