// Package poll is the engine of the tutorial's single non-blocking process:
// one thread, non-blocking sockets, and poll(2) over every descriptor each
// turn (without the tutorial's busy sleep: poll blocks until something is
// ready or a timeout is due). Each turn costs O(connections) in the kernel,
// and file I/O runs on the loop, so a slow disk stalls every client.
package poll

import "github.com/weft-server/weft/internal/engine"

// Engine is the poll(2) engine.
type Engine struct{}

var _ engine.Engine = Engine{}
