// Package netpoll wraps the system calls weft's engines multiplex sockets
// with: sendfile(2), epoll, poll(2), eventfd, SO_REUSEPORT. Each OS has its
// own file; on systems without a facility the functions return
// ErrUnsupported.
package netpoll

import "errors"

// ErrUnsupported is returned where the OS lacks the facility.
var ErrUnsupported = errors.New("weft: not supported on this platform")
