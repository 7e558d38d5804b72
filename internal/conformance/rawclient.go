package conformance

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// RawClient is one client that never retries, for tests that must see
// every lost request (Go's http client retries some and hides them). Run
// sends GET requests in a loop until stop closes.
type RawClient struct {
	Addr string
	// KeepAlive reuses a connection until the server closes it (a
	// connection found closed before a request is written is reopened:
	// that loses nothing); otherwise each request has its own connection
	// and says Connection: close.
	KeepAlive bool
	Path      func(n int) string // the path of request n
	// Header, if set, gives request n's header lines beyond Host, each
	// ending in CRLF.
	Header func(n int) string
	// Answered receives each complete answer (its exact bytes), with the
	// times the request was written and the answer read.
	Answered func(path, raw string, sent, got time.Time)
	// Lost receives each request written and not answered in full, with
	// its kind ("no answer, FIN", "no answer, reset", "no answer",
	// "answer cut", "connect failed") and a description.
	Lost func(kind, what string)
	// Opened, if set, is called for each connection opened.
	Opened func()
}

// Run runs the client until stop closes.
func (rc *RawClient) Run(stop <-chan struct{}) {
	var c net.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		if c != nil && ClosedByServer(c) {
			c.Close()
			c = nil
		}
		if c == nil {
			var err error
			if c, err = net.DialTimeout("tcp", rc.Addr, 10*time.Second); err != nil {
				rc.Lost("connect failed", "connect: "+err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if rc.Opened != nil {
				rc.Opened()
			}
			br = bufio.NewReader(c)
		}
		p := rc.Path(n)
		req := "GET " + p + " HTTP/1.1\r\nHost: t\r\n"
		if rc.Header != nil {
			req += rc.Header(n)
		}
		if !rc.KeepAlive {
			req += "Connection: close\r\n"
		}
		req += "\r\n"
		sent := time.Now()
		if _, err := io.WriteString(c, req); err != nil {
			// The server closed it after the check: nothing was
			// accepted by the kernel if the write failed.
			c.Close()
			c = nil
			continue
		}
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		raw, closing, err := ReadResponse(br)
		c.SetReadDeadline(time.Time{})
		if err != nil {
			kind := "answer cut"
			switch {
			case len(raw) == 0 && errors.Is(err, io.EOF):
				kind = "no answer, FIN"
			case len(raw) == 0 && errors.Is(err, syscall.ECONNRESET):
				kind = "no answer, reset"
			case len(raw) == 0:
				kind = "no answer"
			}
			rc.Lost(kind, fmt.Sprintf("GET %s: %v after %d bytes", p, err, len(raw)))
			c.Close()
			c = nil
			continue
		}
		rc.Answered(p, raw, sent, time.Now())
		if closing || !rc.KeepAlive {
			c.Close()
			c = nil
		}
	}
}
