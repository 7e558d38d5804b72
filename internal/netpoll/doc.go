// Package netpoll wraps the system calls weft's engines multiplex sockets
// with: epoll and eventfd, poll(2), sendfile(2), accept, reads and writes
// on non-blocking sockets, TCP options and descriptor duplication. Most of
// it is Linux-only (files ending in _linux.go); elsewhere SendFileRaw
// returns ErrUnsupported and the engines that need the rest report
// engine.ErrUnsupported.
package netpoll

import "errors"

// ErrUnsupported is returned where the OS lacks the facility.
var ErrUnsupported = errors.New("weft: not supported on this platform")
