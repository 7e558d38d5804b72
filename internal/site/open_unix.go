//go:build unix

package site

import "syscall"

// openFlags keeps open(2) from blocking on a FIFO or device that a hostile
// name points at; such files are then refused as not regular.
const openFlags = syscall.O_NONBLOCK
