package h2_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/h2"
)

// TestH2StalledClientClosed: a client that asks for responses and then
// reads nothing has its connection closed once WriteByteTimeout passes
// with nothing taken. Both ends' socket buffers are small, so that
// the server's writes stall after a few responses.
func TestH2StalledClientClosed(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := &h2.Server{Handler: handler{}, Limits: h2.Limits{WriteByteTimeout: timeout}, ErrorLog: quietLog()}
	cert := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(tls.NewListener(smallSendBuffer{ln}, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}))
	}()
	t.Cleanup(func() { srv.Close(); <-done })

	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := tls.DialWithDialer(&d, "tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bw := bufio.NewWriter(c)
	fr := http2.NewFramer(bw, c)
	io.WriteString(bw, http2.ClientPreface)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	fr.WriteWindowUpdate(0, 1<<31-1-65535)
	var hbuf bytesWriter
	enc := hpack.NewEncoder(&hbuf)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "127.0.0.1"}, {Name: ":path", Value: "/1k"}} {
		enc.WriteField(f)
	}
	// 100 responses of 1 KiB: far more than the socket buffers hold.
	for id := uint32(1); id < 200; id += 2 {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf, EndStream: true, EndHeaders: true})
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(timeout + time.Second)
	// By now the server must have closed the connection: what is left
	// to read is what the kernel holds, then the end.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open %v after the client stopped reading (read %d bytes since)", timeout+4*time.Second, n)
	}
	if n > 64<<10 {
		t.Errorf("read %d bytes after the stall: the server's writes did not stall", n)
	}
	t.Logf("read %d bytes, then %v", n, err)
}

// smallSendBuffer gives accepted connections a small send buffer.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }
