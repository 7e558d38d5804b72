package h2guard

import (
	"io"
	"net"
	"time"
)

// H2CListener is for a listener that serves HTTP/2 by prior knowledge and
// nothing else (Protocols with UnencryptedHTTP2 only). It checks each
// connection's client preface before net/http does: on a bad preface
// net/http closes the connection with the client's bytes unread, which
// makes the kernel send a TCP reset instead of a close (RFC 9113 §3.4 asks
// for the connection to be terminated; h2spec 3.5/2 wants a clean close).
// H2CListener half-closes such a connection, drops what the client sent,
// then lets net/http close it.
//
// Do not use it for TLS, nor on a port that also serves HTTP/1.
func H2CListener(ln net.Listener) net.Listener { return h2cListener{ln} }

type h2cListener struct{ net.Listener }

func (l h2cListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &h2cConn{Conn: c}, nil
}

// h2cConn reads the preface on the first Read and hands it on if valid.
type h2cConn struct {
	net.Conn
	checked bool
	pending []byte
	buf     [len(clientPreface)]byte
}

func (c *h2cConn) Read(p []byte) (int, error) {
	if !c.checked {
		c.checked = true
		n, err := io.ReadFull(c.Conn, c.buf[:])
		if err == nil && string(c.buf[:]) != clientPreface || err == io.ErrUnexpectedEOF {
			if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			c.Conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			io.Copy(io.Discard, io.LimitReader(c.Conn, 64<<10))
			return 0, errPreface
		}
		if err != nil {
			return 0, err
		}
		c.pending = c.buf[:n]
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// NetConn returns the accepted connection.
func (c *h2cConn) NetConn() net.Conn { return c.Conn }
