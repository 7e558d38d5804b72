// Package evloop is the event loop shared by the poll and epoll engines:
// one goroutine (not locked to an OS thread) owns a poller, a listener and
// its connections, reads and writes non-blocking sockets as they become
// ready, and drives each connection's h1conn.Conn. The engines differ only
// in the Poller they give it, in how many loops they run, and in whether
// disk work goes to a worker pool. A request whose handler takes its body
// (an upload) is served off the loop, on a goroutine of its own that reads
// the socket as a blocking stream (see body_linux.go).
package evloop
