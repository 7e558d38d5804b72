package server

// autoEngine is the fastest engine on this OS for plain HTTP.
func autoEngine() string { return "epoll" }
