package h2guard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection: the server's,
// which the writer writes to, and the client's.
func tcpPair(t *testing.T) (srv, cli *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// record is what a writer in TestWriterOrder writes: writer id, sequence
// number, length, then length bytes of a pattern the reader checks.
func record(id, seq, n int) []byte {
	b := make([]byte, 10+n)
	binary.BigEndian.PutUint16(b, uint16(id))
	binary.BigEndian.PutUint32(b[2:], uint32(seq))
	binary.BigEndian.PutUint32(b[6:], uint32(n))
	for i := range n {
		b[10+i] = byte(id + seq + i)
	}
	return b
}

// TestWriterOrder: writers writing at once, in sizes around flushSize
// (buffered, written at once, both), lose nothing and mix nothing, and
// each writer's bytes arrive in its order.
func TestWriterOrder(t *testing.T) {
	srv, cli := tcpPair(t)
	w := newWriter(srv, 5*time.Second)
	const writers, each = 8, 300
	sizes := []int{0, 1, 100, 1 << 10, flushSize - 11, flushSize - 10, flushSize, 3 * flushSize}
	var wg sync.WaitGroup
	for id := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range each {
				b := record(id, seq, sizes[(id+seq)%len(sizes)])
				if n, err := w.Write(b); n != len(b) || err != nil {
					t.Errorf("Write = %d, %v; want %d, nil", n, err, len(b))
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); w.Close() }()

	next := make([]int, writers)
	var h [10]byte
	for got := 0; got < writers*each; got++ {
		if _, err := io.ReadFull(cli, h[:]); err != nil {
			t.Fatalf("after %d records: %v", got, err)
		}
		id, seq, n := int(binary.BigEndian.Uint16(h[:])), int(binary.BigEndian.Uint32(h[2:])), int(binary.BigEndian.Uint32(h[6:]))
		if id >= writers || seq != next[id] {
			t.Fatalf("record %d: writer %d seq %d, want seq %d", got, id, seq, next[id])
		}
		next[id]++
		p := make([]byte, n)
		if _, err := io.ReadFull(cli, p); err != nil {
			t.Fatal(err)
		}
		if want := record(id, seq, n)[10:]; !bytes.Equal(p, want) {
			t.Fatalf("record %d (writer %d seq %d): payload mixed with another", got, id, seq)
		}
	}
	if n, err := cli.Read(h[:1]); n != 0 || err != io.EOF {
		t.Fatalf("after the records: %d, %v; want EOF", n, err)
	}
}

// TestWriterCloseFlushes: bytes still buffered when Close is called reach
// the client before the end of the stream.
func TestWriterCloseFlushes(t *testing.T) {
	srv, cli := tcpPair(t)
	w := newWriter(srv, 5*time.Second)
	want := bytes.Repeat([]byte("goaway"), 100)
	for i := 0; i < len(want); i += 6 {
		w.Write(want[i : i+6])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(cli)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("client read %d bytes, %v; want %d", len(got), err, len(want))
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v; want net.ErrClosed", err)
	}
}

// stalled returns a writer whose client reads nothing: the writer's
// kernel buffer is kept small so that it fills at once.
func stalled(t *testing.T, timeout time.Duration) (*writer, *net.TCPConn, *net.TCPConn) {
	srv, cli := tcpPair(t)
	srv.SetWriteBuffer(16 << 10)
	cli.SetReadBuffer(16 << 10)
	return newWriter(srv, timeout), srv, cli
}

// fill writes until Write fails or limit passes; it returns when the
// error came, and the error.
func fill(w *writer, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	p := make([]byte, 1000)
	for time.Since(start) < limit {
		if _, err := w.Write(p); err != nil {
			return time.Since(start), err
		}
	}
	return limit, nil
}

// TestWriterByteTimeout: a client that takes nothing makes writes fail
// after WriteByteTimeout, in the flush goroutine as in Write; the error
// stays, and the network connection is closed so that the reader (Go's
// server) sees it too.
func TestWriterByteTimeout(t *testing.T) {
	w, srv, _ := stalled(t, 200*time.Millisecond)
	took, err := fill(w, 10*time.Second)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write to a stalled client: %v after %v; want a deadline error", err, took)
	}
	if took > 5*time.Second {
		t.Errorf("the write failed after %v; WriteByteTimeout is 200ms", took)
	}
	if _, err2 := w.Write([]byte("x")); err2 != err {
		t.Errorf("next Write: %v; want %v again", err2, err)
	}
	srv.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := srv.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read on the network connection: %v; want it closed", err)
	}
	start := time.Now()
	w.Close()
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Close after a write error took %v", d)
	}
}

// TestWriterBufferedTimeout: bytes that only the flush goroutine writes
// (each Write is small and buffered) fail the same way once the client
// stalls, and the failure surfaces on a later Write.
func TestWriterBufferedTimeout(t *testing.T) {
	w, _, cli := stalled(t, 200*time.Millisecond)
	start := time.Now()
	p := make([]byte, 1000)
	var err error
	for time.Since(start) < 5*time.Second {
		if _, err = w.Write(p); err != nil {
			break
		}
		time.Sleep(time.Millisecond) // the flush goroutine runs in between
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("small Writes to a stalled client: %v after %v; want a deadline error", err, time.Since(start))
	}
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, cli); err != nil {
		t.Errorf("client: %v; want the connection closed", err)
	}
}

// TestWriterSlowReader: a client that reads slowly but steadily is not cut
// off, however long the whole write takes, as long as it takes something
// within each WriteByteTimeout.
func TestWriterSlowReader(t *testing.T) {
	srv, cli := tcpPair(t)
	w := newWriter(srv, 300*time.Millisecond)
	const total = 32 << 20
	done := make(chan error, 1)
	go func() {
		p := make([]byte, 4<<10)
		for i := 0; i < total/len(p); i++ {
			if _, err := w.Write(p); err != nil {
				done <- err
				return
			}
		}
		done <- w.Close()
	}()
	n := 0
	p := make([]byte, 256<<10)
	start := time.Now()
	for {
		time.Sleep(5 * time.Millisecond)
		m, err := cli.Read(p)
		n += m
		if err != nil {
			break
		}
	}
	if err := <-done; err != nil || n != total {
		t.Fatalf("slow reader got %d of %d bytes; writer: %v", n, total, err)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Logf("the reader took only %v: not slow enough to test anything", d)
	}
}

// TestWriterCloseStalled: Close on a connection whose client reads nothing
// gives up after closeGrace, with a flush under way or not.
func TestWriterCloseStalled(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Minute} {
		w, _, _ := stalled(t, timeout)
		go w.Write(make([]byte, 8<<20)) // blocks: the client takes nothing
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("buffered"))
		start := time.Now()
		w.Close()
		if d := time.Since(start); d > closeGrace+time.Second {
			t.Errorf("WriteByteTimeout %v: Close took %v", timeout, d)
		}
	}
}

// TestWriterPeerReset: a write error (the client is gone) surfaces on a
// later Write.
func TestWriterPeerReset(t *testing.T) {
	srv, cli := tcpPair(t)
	w := newWriter(srv, 5*time.Second)
	cli.SetLinger(0)
	cli.Close() // RST
	took, err := fill(w, 5*time.Second)
	if err == nil {
		t.Fatalf("Writes to a closed client did not fail in %v", took)
	}
}

// TestWriterAllocs: a buffered Write allocates nothing, flush included.
func TestWriterAllocs(t *testing.T) {
	srv, cli := tcpPair(t)
	go io.Copy(io.Discard, cli)
	w := newWriter(srv, 5*time.Second)
	p := make([]byte, 1000)
	w.Write(p) // warm the pool
	time.Sleep(10 * time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { w.Write(p) }); n > 0.1 {
		t.Errorf("Write: %v allocations; want 0", n)
	}
}
