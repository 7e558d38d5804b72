package server

import "github.com/weft-server/weft/internal/engine/process"

// IsWorker reports whether this process is a prefork worker, which its
// supervisor speaks for: it prints no banner and no shutdown messages.
func IsWorker() bool { return process.IsWorker() }
