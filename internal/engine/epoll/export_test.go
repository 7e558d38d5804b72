package epoll

// Sizes exposes the loop and worker counts Serve would use.
func (e Engine) Sizes() (loops, workers int) { return e.sizes() }
