package netpoll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSendFile checks both sendfile paths against a non-blocking socket:
// bytes arrive in order from the requested offset, a full socket reports
// EAGAIN with the progress made, and a file shorter than asked reports
// io.ErrUnexpectedEOF.
func TestSendFile(t *testing.T) {
	for name, send := range map[string]func(dst, src int, off, n int64) (int64, error){
		"SendFileAll": SendFileAll, "SendFileAllNB": SendFileAllNB,
	} {
		t.Run(name, func(t *testing.T) {
			data := make([]byte, 3<<20)
			for i := range data {
				data[i] = byte(i * 7)
			}
			p := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			defer unix.Close(fds[1])

			// The socket fills long before 3 MiB: EAGAIN, with progress.
			const off = 1000
			n, err := send(fds[0], int(f.Fd()), off, int64(len(data)-off))
			if !errors.Is(err, unix.EAGAIN) || n <= 0 || n >= int64(len(data)-off) {
				t.Fatalf("into a full socket: %d, %v; want partial progress and EAGAIN", n, err)
			}
			got := make([]byte, 0, n)
			buf := make([]byte, 64<<10)
			for int64(len(got)) < n {
				m, err := unix.Read(fds[1], buf)
				if err != nil {
					t.Fatalf("read after %d of %d: %v", len(got), n, err)
				}
				got = append(got, buf[:m]...)
			}
			if !bytes.Equal(got, data[off:off+n]) {
				t.Fatal("bytes differ from the file at the offset")
			}

			// Past the end of the file: the file shrank under us.
			if _, err := send(fds[0], int(f.Fd()), int64(len(data)-10), 20); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("beyond the end: %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// TestWritevMoreThenShutdown: output written with MSG_MORE reaches the
// peer, followed by end of stream, once the socket is shut down for
// writing, while its descriptor is still open.
func TestWritevMoreThenShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	rc, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{[]byte("HTTP/1.1 200 OK\r\n"), []byte("Content-Length: 2\r\n\r\n"), []byte("hi")}
	var n int
	var werr error
	rc.Control(func(fd uintptr) {
		n, _, werr = WritevNB(int(fd), bufs, nil, true)
		if werr == nil {
			ShutdownWriteNB(int(fd))
		}
	})
	if werr != nil || n != 40 {
		t.Fatalf("WritevNB: %d, %v", n, werr)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" {
		t.Fatalf("peer read %q, %v", got, err)
	}
}
